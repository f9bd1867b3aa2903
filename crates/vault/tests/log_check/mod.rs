//! The checker behind `no_secrets_in_logs.rs`: a small Rust lexer (comments dropped,
//! string literals kept whole) and the rules that flag a logging or printing macro
//! naming a secret-holding value. The rules are listed in that file's header and in
//! docs/security-checks.md.

/// Logging and printing macros (the last path segment before `!`).
const LOG_MACROS: &[&str] = &[
    "trace",
    "debug",
    "info",
    "warn",
    "error",
    "event",
    "log",
    "span",
    "trace_span",
    "debug_span",
    "info_span",
    "warn_span",
    "error_span",
    "print",
    "println",
    "eprint",
    "eprintln",
    "dbg",
    "panic",
];

/// Parts of an identifier (split at `_`, any case) that mark a secret-holding value.
const SECRET_PARTS: &[&str] = &[
    "body",
    "plaintext",
    "opened",
    "token",
    "tokens",
    "secret",
    "secrets",
    "password",
    "passwords",
    "passphrase",
];

/// Whole identifiers of values that carry opened plaintext in their `Debug`.
const SECRET_NAMES: &[&str] = &["note", "notes"];

/// The marker that exempts one invocation.
pub const ALLOW: &str = "log-check: allow";

#[derive(Clone, Debug, PartialEq)]
enum Tok {
    Ident(String),
    Str(String),
    Punct(char),
}

/// Tokens with their 1-based line; comments are dropped, literals kept whole.
fn lex(src: &str) -> Vec<(Tok, usize)> {
    let c: Vec<char> = src.chars().collect();
    let (mut i, mut line, mut out) = (0, 1, Vec::new());
    let newlines = |s: &[char]| s.iter().filter(|&&ch| ch == '\n').count();
    while i < c.len() {
        let ch = c[i];
        let next = c.get(i + 1).copied();
        if ch == '\n' {
            line += 1;
            i += 1;
        } else if ch.is_whitespace() {
            i += 1;
        } else if ch == '/' && next == Some('/') {
            while i < c.len() && c[i] != '\n' {
                i += 1;
            }
        } else if ch == '/' && next == Some('*') {
            let (start, mut depth) = (i, 0);
            while i < c.len() {
                if c[i] == '/' && c.get(i + 1) == Some(&'*') {
                    depth += 1;
                    i += 2;
                } else if c[i] == '*' && c.get(i + 1) == Some(&'/') {
                    depth -= 1;
                    i += 2;
                    if depth == 0 {
                        break;
                    }
                } else {
                    i += 1;
                }
            }
            line += newlines(&c[start..i.min(c.len())]);
        } else if ch == '"' {
            let start = i;
            i += 1;
            while i < c.len() && c[i] != '"' {
                i += if c[i] == '\\' { 2 } else { 1 };
            }
            let end = i.min(c.len());
            out.push((Tok::Str(c[start + 1..end].iter().collect()), line));
            line += newlines(&c[start..end]);
            i += 1;
        } else if ch == '\'' {
            // A char literal ('x', '\n', '\u{..}') or a lifetime/label ('a).
            if next == Some('\\') {
                i += 3;
                while i < c.len() && c[i] != '\'' {
                    i += 1;
                }
                i += 1;
            } else if c.get(i + 2) == Some(&'\'') {
                i += 3;
            } else {
                out.push((Tok::Punct('\''), line));
                i += 1;
            }
        } else if ch.is_alphanumeric() || ch == '_' {
            let start = i;
            while i < c.len() && (c[i].is_alphanumeric() || c[i] == '_') {
                i += 1;
            }
            let word: String = c[start..i].iter().collect();
            let hashes = c[i..].iter().take_while(|&&h| h == '#').count();
            if matches!(word.as_str(), "r" | "br" | "cr") && c.get(i + hashes) == Some(&'"') {
                // Raw string: r#"..."# with the same number of hashes.
                let body_start = i + hashes + 1;
                let mut j = body_start;
                while j < c.len()
                    && !(c[j] == '"'
                        && c[j + 1..]
                            .iter()
                            .take(hashes)
                            .filter(|&&h| h == '#')
                            .count()
                            == hashes)
                {
                    j += 1;
                }
                let end = j.min(c.len());
                out.push((Tok::Str(c[body_start..end].iter().collect()), line));
                line += newlines(&c[start..end]);
                i = end + 1 + hashes;
            } else if matches!(word.as_str(), "b" | "c") && c.get(i) == Some(&'"') {
                // b"..." / c"...": the quote is read as a plain string next round.
            } else if word == "b" && c.get(i) == Some(&'\'') {
                // b'x': drop the prefix, the char literal is read next round.
            } else {
                out.push((Tok::Ident(word), line));
            }
        } else {
            out.push((Tok::Punct(ch), line));
            i += 1;
        }
    }
    out
}

/// Whether an identifier names a secret-holding value.
fn is_secret_name(ident: &str) -> bool {
    let lower = ident.to_ascii_lowercase();
    SECRET_NAMES.contains(&lower.as_str())
        || lower.split('_').any(|part| SECRET_PARTS.contains(&part))
}

/// The identifiers a format string names inline: `{body}`, `{body:?}`, `{x.token}`.
fn inline_args(s: &str) -> Vec<String> {
    let (mut out, mut rest) = (Vec::new(), s);
    while let Some(open) = rest.find('{') {
        if rest[open + 1..].starts_with('{') {
            rest = &rest[open + 2..];
            continue;
        }
        let inner = &rest[open + 1..];
        let end = inner.find(['}', ':']).unwrap_or(inner.len());
        out.extend(
            inner[..end]
                .split('.')
                .map(str::trim)
                .filter(|w| !w.is_empty() && w.chars().all(|c| c.is_alphanumeric() || c == '_'))
                .map(str::to_owned),
        );
        rest = &inner[end..];
    }
    out
}

/// Index one past the bracket closing the one at `open`.
fn matching(toks: &[(Tok, usize)], open: usize) -> usize {
    let mut depth = 0usize;
    for (k, (t, _)) in toks.iter().enumerate().skip(open) {
        match t {
            Tok::Punct('(' | '[' | '{') => depth += 1,
            Tok::Punct(')' | ']' | '}') => {
                depth -= 1;
                if depth == 0 {
                    return k + 1;
                }
            }
            _ => {}
        }
    }
    toks.len()
}

/// Whether `toks[k]` starts a sealed-value open: `open(..)`/`open_*(..)` with two or
/// more arguments (a one-argument `open(path)` opens a file).
fn is_sealed_open(toks: &[(Tok, usize)], k: usize) -> bool {
    let Tok::Ident(name) = &toks[k].0 else {
        return false;
    };
    if name != "open" && !name.starts_with("open_")
        || toks.get(k + 1).map(|t| &t.0) != Some(&Tok::Punct('('))
    {
        return false;
    }
    if k > 0 && toks[k - 1].0 == Tok::Ident("fn".into()) {
        return false;
    }
    let close = matching(toks, k + 1);
    let mut depth = 0;
    let mut commas = 0;
    for (t, _) in &toks[k + 1..close - 1] {
        match t {
            Tok::Punct('(' | '[' | '{') => depth += 1,
            Tok::Punct(')' | ']' | '}') => depth -= 1,
            Tok::Punct(',') if depth == 1 => commas += 1,
            _ => {}
        }
    }
    // `open(a, b)` has one comma at depth 1 (a trailing comma makes two with b).
    commas >= 1 && !(commas == 1 && toks[close - 2].0 == Tok::Punct(','))
}

/// Names bound by `let PATTERN = …;` where the initializer opens a sealed value.
fn tainted_names(toks: &[(Tok, usize)]) -> Vec<String> {
    let mut out = Vec::new();
    for (k, (t, _)) in toks.iter().enumerate() {
        if *t != Tok::Ident("let".into()) {
            continue;
        }
        // `let x;` binds nothing yet: stop at the statement's end.
        let Some(eq) = (k..toks.len())
            .find(|&j| matches!(toks[j].0, Tok::Punct('=' | ';')))
            .filter(|&j| toks[j].0 == Tok::Punct('='))
        else {
            continue;
        };
        let mut end = eq;
        let mut depth = 0i32;
        while end < toks.len() {
            match toks[end].0 {
                Tok::Punct('(' | '[' | '{') => depth += 1,
                Tok::Punct(')' | ']' | '}') => depth -= 1,
                Tok::Punct(';') if depth == 0 => break,
                _ => {}
            }
            if depth < 0 {
                break;
            }
            end += 1;
        }
        if (eq..end).any(|j| is_sealed_open(toks, j)) {
            for (j, (p, _)) in toks.iter().enumerate().take(eq).skip(k + 1) {
                let path_sep = |i: usize| toks.get(i).is_some_and(|t| t.0 == Tok::Punct(':'));
                match p {
                    // A type annotation ends the pattern; `Foo::Bar(x)` does not.
                    Tok::Punct(':') if !path_sep(j - 1) && !path_sep(j + 1) => break,
                    Tok::Ident(w) if !matches!(w.as_str(), "mut" | "ref" | "_") => {
                        out.push(w.clone())
                    }
                    _ => {}
                }
            }
        }
    }
    out
}

/// One flagged invocation: line, macro and what it names.
#[derive(Debug, PartialEq)]
pub struct Hit {
    pub line: usize,
    pub macro_name: String,
    pub names: String,
}

/// Every logging or printing macro invocation in `src` that names a secret-holding
/// value, unless exempted with `// log-check: allow <reason>`; and how many logging or
/// printing invocations there are in all.
pub fn check(src: &str) -> (Vec<Hit>, usize) {
    let allowed: Vec<usize> = src
        .lines()
        .enumerate()
        .filter(|(_, l)| l.contains(ALLOW))
        .map(|(n, _)| n + 1)
        .collect();
    let toks = lex(src);
    let tainted = tainted_names(&toks);
    let (mut hits, mut seen) = (Vec::new(), 0);
    for k in 0..toks.len().saturating_sub(2) {
        let (Tok::Ident(name), line) = (&toks[k].0, toks[k].1) else {
            continue;
        };
        let is_macro = LOG_MACROS.contains(&name.as_str())
            && toks[k + 1].0 == Tok::Punct('!')
            && matches!(toks[k + 2].0, Tok::Punct('(' | '[' | '{'));
        if !is_macro {
            continue;
        }
        seen += 1;
        if allowed.iter().any(|&a| a == line || a + 1 == line) {
            continue;
        }
        let end = matching(&toks, k + 2);
        let secret = |w: &str| is_secret_name(w) || tainted.iter().any(|t| t == w);
        let mut names: Vec<String> = Vec::new();
        for j in k + 3..end.saturating_sub(1) {
            let found = match &toks[j].0 {
                // `note.id` logs a field of the note: only the field's name matters.
                Tok::Ident(w)
                    if SECRET_NAMES.contains(&w.as_str()) && toks[j + 1].0 == Tok::Punct('.') =>
                {
                    vec![]
                }
                Tok::Ident(w) if secret(w) => vec![w.clone()],
                Tok::Ident(w) if is_sealed_open(&toks, j) => vec![format!("{w}(..)")],
                Tok::Str(s) => inline_args(s)
                    .into_iter()
                    .filter(|w| secret(w))
                    .map(|w| format!("{{{w}}}"))
                    .collect(),
                _ => vec![],
            };
            for name in found {
                if !names.contains(&name) {
                    names.push(name);
                }
            }
        }
        if !names.is_empty() {
            hits.push(Hit {
                line,
                macro_name: format!("{name}!"),
                names: names.join(", "),
            });
        }
    }
    (hits, seen)
}

//! Static check that no code path logs a sealed value or a credential (SECURITY.md
//! KEY-01, AGENTS.md "Secrets never reach logs"). It reads every `crates/*/src/**.rs`
//! file of the workspace and fails on a logging or printing macro whose arguments name
//! a secret-holding value. What it does and does not catch is in
//! docs/security-checks.md; in short:
//!
//! - macros: tracing's and log's `trace|debug|info|warn|error|event|log!` and the
//!   `*_span!`s, `print!`, `println!`, `eprint!`, `eprintln!`, `dbg!`, `panic!`;
//! - flagged inside them: an identifier with a `_`-separated part that is `body`,
//!   `plaintext`, `opened`, `token(s)`, `secret(s)`, `password(s)` or `passphrase`
//!   (so `note.body`, `refresh_token`, `jwt_secret` and a field named `token =`), the
//!   identifiers `note`/`notes` (`store::Note` derives `Debug` with its body), the same
//!   names as `{inline}` format arguments, a call to `open`/`open_*` with two or more
//!   arguments (`KeyRing::open(ctx, token)`, `Store::open_note(scope, row)`), and any
//!   name that a `let` in the same file binds from such a call;
//! - not flagged: prose in string literals, comments, one-argument `open(path)` (files).
//!
//! An invocation that is fine after all carries `// log-check: allow <reason>` on its
//! first line or the line above.

mod log_check;

use std::path::{Path, PathBuf};

use log_check::{ALLOW, check};

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).expect("read dir").flatten() {
        let path = entry.path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

#[test]
fn no_code_path_logs_a_sealed_value_or_a_credential() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let mut files = Vec::new();
    for krate in std::fs::read_dir(root.join("crates"))
        .expect("crates")
        .flatten()
    {
        let src = krate.path().join("src");
        if src.is_dir() {
            rust_files(&src, &mut files);
        }
    }
    files.sort();
    assert!(files.len() > 20, "found only {} source files", files.len());
    let (mut report, mut invocations) = (String::new(), 0);
    for file in &files {
        let text = std::fs::read_to_string(file).expect("read");
        let (hits, seen) = check(&text);
        invocations += seen;
        for hit in hits {
            let shown = file.strip_prefix(&root).unwrap_or(file).display();
            report += &format!(
                "{shown}:{}: {} names {}\n",
                hit.line, hit.macro_name, hit.names
            );
        }
    }
    // The lexer must keep seeing the workspace's log lines, or the check checks nothing.
    assert!(
        invocations > 20,
        "found only {invocations} logging or printing macros"
    );
    assert!(
        report.is_empty(),
        "logging/printing macros name secret-holding values (log ids, not values; or mark a \
         false positive with `// {ALLOW} <reason>`):\n{report}"
    );
}

/// The names flagged in `src`, one string per flagged invocation.
fn flagged(src: &str) -> Vec<String> {
    check(src)
        .0
        .into_iter()
        .map(|h| format!("{} {}", h.macro_name, h.names))
        .collect()
}

#[test]
fn the_check_flags_secret_values_in_log_macros() {
    let bad = [
        (
            "tracing::info!(body = %note.body, \"saved\");",
            "info! body",
        ),
        ("tracing::debug!(?note, \"loaded\");", "debug! note"),
        ("println!(\"{plaintext}\");", "println! {plaintext}"),
        (
            "log::warn!(\"refresh failed: {:?}\", refresh_token);",
            "warn! refresh_token",
        ),
        (
            "tracing::error!(\"{access_token:?} rejected\");",
            "error! {access_token}",
        ),
        (
            "eprintln!(\"key {}\", config.jwt_secret);",
            "eprintln! jwt_secret",
        ),
        ("info!(token = %id);", "info! token"),
        (
            "tracing::debug!(\"{:?}\", ring.open(ctx, &sealed));",
            "debug! open(..)",
        ),
        (
            "let text = keys.ring(d).open(note_context(&org, &id), &t)?;\ntracing::info!(%text, \"opened\");",
            "info! text",
        ),
        (
            "let (value, key) = ring.open_with_key(ctx, t)?;\nprintln!(\"{value:?} under {key}\");",
            "println! {value}, {key}",
        ),
        (
            "tracing::warn!(\n    note_id = %id,\n    body = %n.body,\n    \"multi-line\"\n);",
            "warn! body",
        ),
        ("panic!(\"bad {}\", opened);", "panic! opened"),
        (
            "let Opened::Text(words): Opened = vault.open_text(ctx, t);\ninfo!(?words);",
            "info! words",
        ),
        // An escaped quote in a char literal does not swallow what follows.
        (
            "let q = '\\''; let r = b'\\\\'; println!(\"{token}\");",
            "println! {token}",
        ),
    ];
    for (src, want) in bad {
        assert_eq!(flagged(src), vec![want.to_owned()], "for {src:?}");
    }
    let line = check("fn f() {\n\n    tracing::info!(%password_hash);\n}")
        .0
        .remove(0)
        .line;
    assert_eq!(line, 3, "the hit names the macro's line");
}

#[test]
fn the_check_leaves_ids_prose_comments_and_files_alone() {
    let good = [
        // The store's real failure line: prose mentions "body", the fields are ids.
        "tracing::error!(note_id = %id, \"a sealed note body failed to open\");",
        "tracing::warn!(lockout_secs = locked_for, \"login locked after repeated failures\");",
        // A field of a note is not the note.
        "tracing::info!(note_id = %note.id, count = notes.len());",
        // Not a logging macro.
        "let url = format!(\"{public_url}/invite/{token}\");",
        // Comments and strings that merely contain a log call.
        "// tracing::info!(body = %note.body);\n/* println!(\"{token}\") */",
        "let s = r#\"info!(\"{body}\")\"#;",
        // `let x;` followed by an unrelated comparison taints nothing.
        "let words;\nif a == ring.open(ctx, t) { words = 1; }\ninfo!(?words);",
        // A one-argument open is a file.
        "let file = options.open(path)?;\ntracing::info!(file = ?file, \"opened the file\");",
        // Escaped braces are no format argument.
        "println!(\"{{token}} is a placeholder\");",
        // An explicit, reasoned exemption.
        "// log-check: allow the name of the variable, not its value\nprintln!(\"set {}\", JWT_SECRET);",
        // Lifetimes and char literals do not confuse the lexer.
        "fn f<'a>(s: &'a str) -> char { let q = '\"'; tracing::info!(len = s.len()); q }",
    ];
    for src in good {
        assert_eq!(flagged(src), Vec::<String>::new(), "for {src:?}");
    }
}

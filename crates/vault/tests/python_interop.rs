//! Sealed values are standard Fernet: Python's `cryptography` MultiFernet opens our
//! tokens with the right domain's keys (and fails with any other domain's), and tokens
//! it makes open here. Needs `python3` with `cryptography` (CI installs it with pip);
//! outside CI a machine without it skips with a note.

use std::process::Command;

use pitchside_vault::sealed::{Domain, KeyRing, SealContext, generate_fernet_key};

const CTX: SealContext<'static> = SealContext {
    org: "0193a6b2-0000-7000-8000-000000000001",
    table: "notes",
    column: "body",
    row: "0193a6b2-0000-7000-8000-0000000000aa",
};

/// Run a Python snippet with the given environment; `None` if Python or cryptography
/// is missing.
fn python(script: &str, env: &[(&str, &str)]) -> Option<(bool, String)> {
    let probe = Command::new("python3")
        .args(["-c", "import cryptography.fernet"])
        .status();
    if !probe.is_ok_and(|s| s.success()) {
        assert!(
            std::env::var("CI").map_or(true, |v| v != "true"),
            "CI=true but python3 with the cryptography package is not available"
        );
        eprintln!("note: python3 with cryptography not available; skipping the interop test");
        return None;
    }
    let out = Command::new("python3")
        .args(["-c", script])
        .envs(env.iter().copied())
        .output()
        .expect("run python3");
    let text = String::from_utf8_lossy(&out.stdout).trim().to_owned();
    Some((
        out.status.success(),
        format!("{text}{}", String::from_utf8_lossy(&out.stderr)),
    ))
}

const OPEN_IN_PYTHON: &str = r#"
import base64, json, os
from cryptography.fernet import Fernet, MultiFernet
keys = MultiFernet([Fernet(k.strip()) for k in os.environ["KEYS"].split(",")])
env = json.loads(keys.decrypt(os.environ["TOKEN"].encode()))
assert env["v"] == 1 and env["d"] == os.environ["DOMAIN"], env
assert (env["o"], env["t"], env["c"], env["r"]) == tuple(os.environ[k] for k in ("ORG", "TABLE", "COLUMN", "ROW")), env
print(base64.b64decode(env["p"]).decode())
"#;

const SEAL_IN_PYTHON: &str = r#"
import base64, json, os
from cryptography.fernet import Fernet, MultiFernet
keys = MultiFernet([Fernet(k.strip()) for k in os.environ["KEYS"].split(",")])
env = {"v": 1, "d": os.environ["DOMAIN"], "o": os.environ["ORG"], "t": os.environ["TABLE"],
       "c": os.environ["COLUMN"], "r": os.environ["ROW"],
       "p": base64.b64encode(os.environ["VALUE"].encode()).decode()}
print(keys.encrypt(json.dumps(env).encode()).decode())
"#;

fn ctx_env<'a>(keys: &'a str, domain: &'a str) -> Vec<(&'a str, &'a str)> {
    vec![
        ("KEYS", keys),
        ("DOMAIN", domain),
        ("ORG", CTX.org),
        ("TABLE", CTX.table),
        ("COLUMN", CTX.column),
        ("ROW", CTX.row),
    ]
}

#[test]
fn python_opens_our_tokens_with_the_right_domain_keys_only() {
    let (k_old, k_new, k_other) = (
        generate_fernet_key(),
        generate_fernet_key(),
        generate_fernet_key(),
    );
    let notes =
        KeyRing::new(Domain::CoachingNotes, [k_new.as_str(), k_old.as_str()]).expect("ring");
    let sealed = notes
        .seal(CTX, "Coach Ada on discovery — résumé ✓".as_bytes())
        .expect("seal");

    let keys = format!("{k_new},{k_old}");
    let mut env = ctx_env(&keys, "coaching_notes");
    env.push(("TOKEN", &sealed.token));
    let Some((ok, out)) = python(OPEN_IN_PYTHON, &env) else {
        return;
    };
    assert!(ok, "python could not open our token: {out}");
    assert_eq!(out, "Coach Ada on discovery — résumé ✓");

    // The transcripts domain's keys cannot open it.
    let mut env = ctx_env(&k_other, "coaching_notes");
    env.push(("TOKEN", &sealed.token));
    let (ok, out) = python(OPEN_IN_PYTHON, &env).expect("python");
    assert!(!ok && out.contains("InvalidToken"), "{out}");
}

#[test]
fn tokens_made_by_python_open_here_and_only_in_their_context() {
    let (k1, k2) = (generate_fernet_key(), generate_fernet_key());
    // Python's MultiFernet encrypts with its first key: k2.
    let keys = format!("{k2},{k1}");
    let mut env = ctx_env(&keys, "transcripts");
    env.push(("VALUE", "Prospect: we need SSO before Q3."));
    let Some((ok, token)) = python(SEAL_IN_PYTHON, &env) else {
        return;
    };
    assert!(ok, "{token}");
    let ring = KeyRing::new(Domain::Transcripts, [k1.as_str(), k2.as_str()]).expect("ring");
    assert_eq!(
        ring.open(CTX, &token).expect("open"),
        b"Prospect: we need SSO before Q3."
    );
    assert_eq!(
        ring.key_id_for(&token),
        KeyRing::new(Domain::Transcripts, [k2.as_str()])
            .expect("r")
            .primary_id()
    );
    let elsewhere = SealContext {
        row: "another-row",
        ..CTX
    };
    assert!(ring.open(elsewhere, &token).is_err());
    let wrong_domain =
        KeyRing::new(Domain::CoachingNotes, [k1.as_str(), k2.as_str()]).expect("ring");
    assert!(wrong_domain.open(CTX, &token).is_err());
}

#[test]
fn python_rotation_and_our_rotation_agree() {
    let (k1, k2) = (generate_fernet_key(), generate_fernet_key());
    let old = KeyRing::new(Domain::AiInsights, [k1.as_str()]).expect("ring");
    let sealed = old.seal(CTX, b"brief").expect("seal");
    let rotated = KeyRing::new(Domain::AiInsights, [k2.as_str(), k1.as_str()])
        .expect("ring")
        .reseal(CTX, &sealed.token)
        .expect("reseal");
    // Python, holding only the new key, opens the re-sealed token and sees the original
    // timestamp, as its own MultiFernet.rotate would keep it.
    let script = r#"
import os
from cryptography.fernet import Fernet
f = Fernet(os.environ["KEYS"])
f.decrypt(os.environ["TOKEN"].encode())
print(f.extract_timestamp(os.environ["TOKEN"].encode()))
"#;
    let Some((ok, out)) = python(script, &[("KEYS", &k2), ("TOKEN", &rotated.token)]) else {
        return;
    };
    assert!(ok, "{out}");
    assert_eq!(
        out.parse::<u64>().ok(),
        pitchside_vault::sealed::token_timestamp(&sealed.token)
    );
}

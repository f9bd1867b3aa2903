#!/usr/bin/env python3
"""Secret scan of the Pitchside repository (SECURITY.md KEY-01, DEP-02).

Runs detect-secrets (PyPI; gitleaks is not installable here) with its stock plugins plus
the project's own (`plugins.py` beside this file), and fails on any finding that is not
listed in `allowlist.toml`, each entry of which names the file, the finding's type, its
hashed secret and the reason it is allowed.

    scan.py              the working tree: tracked files and new files git does not ignore
    scan.py --history    every version of every file in every commit (`git rev-list --all`)
    scan.py --self-test  plants canary secrets in a temporary copy of the tree and checks
                         that each is caught and nothing else is (so the rules cannot rot)

Exit status: 0 clean, 1 findings (or a stale allow-list entry, or a failed self-test),
2 the scanner could not run. See docs/security-checks.md.
"""

from __future__ import annotations

import argparse
import base64
import fnmatch
import json
import os
import re
import secrets
import shutil
import string
import subprocess
import sys
import tempfile
import tomllib
from dataclasses import dataclass, field
from pathlib import Path

HERE = Path(__file__).resolve().parent
PLUGINS = HERE / "plugins.py"
ALLOWLIST = HERE / "allowlist.toml"
# The allow list's own `hashed_secret = "<sha1>"` lines look like secrets to the
# stock detectors; in that file (and its old versions) such a line is not one.
ALLOWLIST_REL = "scripts/secret-scan/allowlist.toml"
ALLOWLIST_LINE = re.compile(r'hashed_secret = "[0-9a-f]{40}"')

# Heuristic filters of detect-secrets that would hide real keys in Rust code:
# `is_indirect_reference` drops any line shaped like `x = call(...)`, which includes
# `Fernet::new("<key>")`; `is_likely_id_string` drops an entropy or keyword finding
# when `_id` comes earlier on its line (`client_id=…, client_secret=…`).
DISABLED_FILTERS = (
    "detect_secrets.filters.heuristic.is_indirect_reference",
    "detect_secrets.filters.heuristic.is_likely_id_string",
)


@dataclass(frozen=True, order=True)
class Finding:
    path: str
    line: int
    kind: str
    hashed_secret: str
    # The line itself, only to recognise the allow list's own lines; never printed.
    text: str = field(default="", compare=False, repr=False)


def git(root: Path, *args: str) -> str:
    return subprocess.run(
        ["git", *args], cwd=root, check=True, capture_output=True, text=True
    ).stdout


def detect(root: Path, files: list[str]) -> list[Finding]:
    """Run detect-secrets over `files` (relative to `root`)."""
    if not files:
        return []
    cmd = [sys.executable, "-m", "detect_secrets", "scan", "--all-files"]
    cmd += ["--plugin", str(PLUGINS)]
    for f in DISABLED_FILTERS:
        cmd += ["--disable-filter", f]
    cmd += files
    # No __pycache__ beside plugins.py: the tree stays as it was.
    env = {**os.environ, "PYTHONDONTWRITEBYTECODE": "1"}
    out = subprocess.run(cmd, cwd=root, capture_output=True, text=True, env=env)
    if out.returncode != 0:
        sys.stderr.write(out.stderr)
        print("secret scan: detect-secrets failed to run")
        sys.exit(2)
    results = json.loads(out.stdout)["results"]
    findings = []
    for path, found in results.items():
        lines = (root / path).read_text(errors="replace").splitlines()
        for r in found:
            n = r["line_number"]
            text = lines[n - 1].strip() if 0 < n <= len(lines) else ""
            findings.append(Finding(path, n, r["type"], r["hashed_secret"], text))
    return sorted(findings)


def tree_files(root: Path) -> list[str]:
    """Tracked files plus untracked ones that .gitignore does not exclude."""
    listed = git(root, "ls-files", "-z", "--cached", "--others", "--exclude-standard")
    return sorted(p for p in set(listed.split("\0")) if p and (root / p).is_file())


def scan_tree(root: Path) -> list[Finding]:
    return detect(root, tree_files(root))


def scan_history(root: Path) -> list[Finding]:
    """Every (path, blob) pair of every commit, written out under a temporary folder."""
    commits = git(root, "rev-list", "--all", "--reverse").split()
    blobs: dict[tuple[str, str], str] = {}  # (blob, path) -> oldest commit holding it
    for commit in commits:
        for row in git(root, "ls-tree", "-r", "-z", commit).split("\0"):
            if not row:
                continue
            meta, path = row.split("\t", 1)
            _mode, kind, blob = meta.split()
            if kind == "blob":
                blobs.setdefault((blob, path), commit)
    with tempfile.TemporaryDirectory(prefix="pitchside-history-") as tmp:
        tmpdir = Path(tmp)
        files = []
        for blob, path in sorted(blobs):
            content = subprocess.run(
                ["git", "cat-file", "blob", blob], cwd=root, check=True, capture_output=True
            ).stdout
            dest = tmpdir / blob / path
            dest.parent.mkdir(parents=True, exist_ok=True)
            dest.write_bytes(content)
            files.append(f"{blob}/{path}")
        found = detect(tmpdir, files)
    # Report the path as in the repository and the oldest commit holding that version.
    out = []
    for f in found:
        blob, path = f.path.split("/", 1)
        commit = blobs[(blob, path)][:12]
        out.append(Finding(f"{path}@{commit}", f.line, f.kind, f.hashed_secret, f.text))
    return out


def load_allowlist() -> list[dict]:
    with ALLOWLIST.open("rb") as fh:
        entries = tomllib.load(fh).get("allow", [])
    for e in entries:
        missing = {"path", "type", "hashed_secret", "reason"} - e.keys()
        if missing or not str(e.get("reason", "")).strip():
            raise SystemExit(f"secret scan: allowlist entry {e} lacks {sorted(missing) or 'a reason'}")
    return entries


def entry_key(e: dict) -> tuple[str, str, str]:
    return (e["path"], e["type"], e["hashed_secret"])


def classify(findings: list[Finding], entries: list[dict]) -> tuple[list[Finding], set, int]:
    """The findings the allow list does not cover, the entries it used, and how many
    findings were the allow list's own hash lines."""
    used = set()
    bad = []
    own = 0
    for f in findings:
        # History findings are `path@commit`; entries name the path (or a glob).
        path = f.path.rsplit("@", 1)[0]
        if path == ALLOWLIST_REL and ALLOWLIST_LINE.fullmatch(f.text):
            own += 1
            continue
        match = [
            entry_key(e)
            for e in entries
            if e["type"] == f.kind
            and e["hashed_secret"] == f.hashed_secret
            and fnmatch.fnmatchcase(path, e["path"])
        ]
        if match:
            used.update(match)
        else:
            bad.append(f)
    return bad, used, own


def judge(findings: list[Finding], history: bool) -> int:
    """Print findings against the allow list; return the exit status."""
    entries = load_allowlist()
    bad, used, own = classify(findings, entries)
    for f in bad:
        print(f"SECRET  {f.path}:{f.line}  {f.kind}  (hashed_secret {f.hashed_secret})")
    status = 1 if bad else 0
    if not history:
        # An entry that allows nothing any more is removed, so it cannot later hide a
        # real key that happens to land in the same file.
        for e in entries:
            key = entry_key(e)
            if key not in used and not e.get("history_only", False):
                print(f"STALE allowlist entry (matches nothing; remove it): {key}")
                status = 1
    if bad and history:
        print(
            f"secret scan: {len(bad)} finding(s) in past commits. A real secret that was ever"
            " committed is compromised: rotate it, then add a `history_only = true` entry"
            f" saying so to {ALLOWLIST_REL}; a test value gets an entry with its reason."
        )
    elif bad:
        print(
            f"secret scan: {len(bad)} finding(s). Remove the secret (and rotate it if it was"
            f" ever real), or, for a test value, add an entry with a reason to {ALLOWLIST_REL}"
            " (or an inline `pragma: allowlist secret` comment on the line)."
        )
    print(
        f"secret scan ({'history' if history else 'tree'}): {len(findings)} finding(s):"
        f" {len(findings) - len(bad) - own} allow-listed with a reason,"
        f" {own} hash line(s) of the allow list itself, {len(bad)} not allowed"
    )
    return status


# ---------------------------------------------------------------------------------------
# Self-test. The canaries are assembled at run time, so this file holds none of them.


def _random(alphabet: str, n: int) -> str:
    return "".join(secrets.choice(alphabet) for _ in range(n))


AWS = "AWS Access Key"
PEM = "Private Key"
FERNET = "Fernet key (32 bytes, base64)"  # pragma: allowlist secret
ASSIGNED = "Secret assigned to PITCHSIDE_KEYS_* / *_SECRET"  # pragma: allowlist secret


def canaries() -> dict[str, tuple[str, set[str]]]:
    """File name -> (content with one realistic fake secret on line 2, the detectors that
    must report it)."""
    upper = string.ascii_uppercase + string.digits

    def fernet() -> str:
        return base64.urlsafe_b64encode(os.urandom(32)).decode()

    begin, end = "-----BEGIN RSA " + "PRIVATE KEY-----", "-----END RSA " + "PRIVATE KEY-----"
    keys = "PITCHSIDE_" + "KEYS_"
    return {
        "canary/aws.env": (
            "# deploy\nAWS_ACCESS_KEY_ID=" + "AK" + "IA" + _random(upper, 16) + "\n",
            {AWS},
        ),
        "canary/id_rsa.pem": (
            "\n".join(["# key", begin, base64.b64encode(os.urandom(48)).decode(), end, ""]),
            {PEM},
        ),
        "canary/keys.env": (
            "# sealing keys\n" + keys + "COACHING_NOTES=" + fernet() + "," + fernet() + "\n",
            {FERNET, ASSIGNED},
        ),
        "canary/config.toml": (
            "[secrets]\n" + "JWT" + "_SECRET = \"" + _random(string.ascii_letters, 24) + "\"\n",
            {ASSIGNED},
        ),
        "canary/sealed.rs": (
            "fn ring() {\n    let k = Fernet::new(\"" + fernet() + "\").unwrap();\n}\n",
            {FERNET},
        ),
        "canary/cli_test.rs": (
            "fn env(c: &mut Command) {\n    c.env(\"" + keys + "TRANSCRIPTS\", \""
            + _random(string.ascii_letters + "-", 20) + "\");\n}\n",
            {ASSIGNED},
        ),
    }


def self_test(root: Path) -> int:
    with tempfile.TemporaryDirectory(prefix="pitchside-secret-canary-") as tmp:
        copy = Path(tmp)
        for rel in tree_files(root):
            dest = copy / rel
            dest.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(root / rel, dest)
        git(copy, "init", "-q")
        planted = canaries()
        for rel, (content, _) in planted.items():
            (copy / rel).parent.mkdir(parents=True, exist_ok=True)
            (copy / rel).write_text(content)
        findings = scan_tree(copy)
    bad, _, _ = classify(findings, load_allowlist())
    ok = True
    for rel, (_, expected) in planted.items():
        got = {f.kind for f in bad if f.path == rel and f.line == 2}
        for kind in sorted(got):
            print(f"  caught  {rel}:2  {kind}")
        for kind in sorted(expected - got):
            print(f"  MISSED  {rel}:2  {kind}")
            ok = False
    for f in bad:
        if f.path not in planted:
            print(f"  UNEXPECTED  {f.path}:{f.line}  {f.kind}")
            ok = False
    print(f"secret scan self-test: {len(planted)} canaries planted in a copy of the tree: "
          + ("all caught by the expected detectors, nothing else reported" if ok else "FAILED"))
    return 0 if ok else 1


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    mode = parser.add_mutually_exclusive_group()
    mode.add_argument("--history", action="store_true", help="scan every commit's files")
    mode.add_argument("--self-test", action="store_true", help="check the rules catch canaries")
    args = parser.parse_args()
    try:
        import detect_secrets  # noqa: F401
    except ImportError:
        print("secret scan: detect-secrets is not installed (python3 -m pip install detect-secrets)")
        return 2
    root = Path(git(Path.cwd(), "rev-parse", "--show-toplevel").strip())
    if args.self_test:
        return self_test(root)
    if args.history:
        return judge(scan_history(root), history=True)
    return judge(scan_tree(root), history=False)


if __name__ == "__main__":
    sys.exit(main())

"""Every subcommand, given bad input, answers with one line naming the problem and the fix,
and a documented non-zero exit code: never a traceback.

Driven in-process through ``proxy.cli.main`` (argparse's own errors arrive as
SystemExit) so the whole matrix runs in seconds, plus real processes for the cases
where the interpreter's own behaviour matters (ports, stdin, interrupts).
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from proxy import cli

ROOT = Path(__file__).resolve().parent.parent
SECRET = "cli-errors-secret-" + "x" * 32


@pytest.fixture
def taken_port() -> Iterator[int]:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen()
        yield sock.getsockname()[1]


@pytest.fixture
def workdir(tmp_path, monkeypatch) -> Path:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("CONSENTRY_SECRET", SECRET)
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "state"))
    (tmp_path / "bad.toml").write_text("[proxy]\nlisten = \n", encoding="utf-8")
    (tmp_path / "typo.toml").write_text('[sites."a.example"]\nupstream = "http://127.0.0.1:1"\nmod = "strip"\n', encoding="utf-8")
    (tmp_path / "page.html").write_text("<p>hi</p>", encoding="utf-8")
    (tmp_path / "exists.html").write_text("keep me", encoding="utf-8")
    (tmp_path / "notes.jsonl").write_text("this is not json\n", encoding="utf-8")
    (tmp_path / "audit.jsonl").write_text('{"type": "run", "consent": "none", "granted": ["necessary"], "mode": "defer", "source": "mitmproxy"}\n', encoding="utf-8")
    (tmp_path / "audit.html").write_text("older report", encoding="utf-8")
    return tmp_path


def run_cli(argv: list[str], capsys) -> tuple[int, str, str]:
    try:
        code = cli.main(argv)
    except SystemExit as exit_:
        code = exit_.code if isinstance(exit_.code, int) else 1
    out, err = capsys.readouterr()
    return code, out, err


# (argv, exit code, text the message must contain)
CASES = [
    ([], 2, "required: COMMAND"),
    (["bogus"], 2, "invalid choice: 'bogus'"),
    (["demo", "--port", "99999"], 2, "--port 99999: give a port"),
    (["demo", "--port", "eighty"], 2, "invalid int value: 'eighty'"),
    (["run"], 2, "give --config FILE"),
    (["run", "--config", "bad.toml", "--upstream", "http://127.0.0.1:1"], 2, "conflict"),
    (["--config", "bad.toml", "run", "--upstream", "http://127.0.0.1:1"], 2, "conflict"),
    (["run", "--upstream", "not a url"], 2, "--upstream"),
    (["run", "--upstream", "http://127.0.0.1:1", "--listen", "nowhere"], 2, "give HOST:PORT"),
    (["run", "--upstream", "http://127.0.0.1:1", "--admin-listen", "nowhere"], 2, "or off to disable it"),
    (["run", "--upstream", "http://127.0.0.1:1", "--workers", "0"], 2, "--workers 0: give 1 to 64"),
    (["run", "--upstream", "http://127.0.0.1:1", "--access-log", "loud"], 2, "invalid choice: 'loud'"),
    (["run", "--config", "missing.toml"], 2, "missing.toml"),
    (["run", "--config", "bad.toml"], 2, "bad.toml:2"),
    (["run", "--config", "typo.toml"], 2, 'did you mean "mode"'),
    (["rewrite", "missing.html"], 66, "missing.html: No such file"),
    (["rewrite", "."], 66, "Is a directory"),
    (["rewrite", "page.html", "--consent", "analytic"], 2, "--consent: unknown category analytic"),
    (["rewrite", "page.html", "--site", "nope.example", "--config", "typo.toml"], 2, "typo.toml:3"),
    (["rewrite", "page.html", "--mode", "delete"], 2, "invalid choice: 'delete'"),
    (["rewrite", "page.html", "--report", "no/such/dir/r.jsonl", "-q"], 73, "cannot write"),
    (["scan", "missing.html"], 66, "missing.html"),
    (["scan", "http://127.0.0.1:1/"], 66, "http://127.0.0.1:1/"),
    (["scan", "page.html", "--depth", "-1"], 2, "--depth -1"),
    (["scan", "page.html", "-o", "exists.html"], 73, "--force"),
    (["scan", "page.html", "--consent", "analytic"], 2, "did you mean"),
    (["scan"], 2, "the following arguments are required: FILE|URL"),
    (["report", "missing.jsonl"], 66, "no such file"),
    (["report", "notes.jsonl"], 66, "not a Consentry audit report"),
    (["report", "audit.jsonl"], 73, "--force"),
    (["check-config"], 2, "give the policy file"),
    (["check-config", "missing.toml"], 66, "no such file"),
    (["check-config", "bad.toml"], 2, "bad.toml:2"),
    (["doctor", "--config", "bad.toml"], 1, "FAIL  policy"),
    (["doctor", "--config", "bad.toml", "--upstream", "http://127.0.0.1:1"], 2, "conflict"),
    (["doctor", "--config", "missing.toml"], 1, "missing.toml"),
    (["keys"], 2, "required: ACTION"),
    (["keys", "generate", "--alg", "RS256"], 2, "invalid choice: 'RS256'"),
    (["keys", "generate", "--output", "exists.html"], 73, "--force"),
    (["token"], 2, "required: ACTION"),
    (["token", "issue", "--consent", "everything"], 2, "unknown category everything"),
    (["token", "verify", "not-a-token"], 1, "invalid:"),
    (["token", "verify", "x", "--config", "missing.toml"], 2, "missing.toml"),
    (["receipts"], 2, "required: ACTION"),
    (["receipts", "export", "--since", "yesterday"], 2, "--since yesterday: not a date"),
    (["receipts", "export", "--format", "xml"], 2, "invalid choice: 'xml'"),
    (["receipts", "--database", "mysql://db/x", "export"], 2, "not a receipts URL"),
    (["receipts", "export", "--database", "postgresql://u:secret@127.0.0.1:1/x"], 69, "u:***@127.0.0.1:1"),
    (["receipts", "show"], 2, "required: consent_id"),
    (["receipts", "show", "no-such-id"], 1, "no receipts for consent id no-such-id"),
    (["receipts", "prune", "--days", "0"], 2, "--days 0"),
    (["openapi", "-o", "exists.html"], 73, "--force"),
    (["catalogue"], 2, "required: ACTION"),
    (["catalogue", "import", "missing.json"], 66, "missing.json: no such file"),
    (["catalogue", "import", "bad.toml"], 66, "no host found"),
    (["catalogue", "lookup"], 2, "required: URL"),
    (["insights", "--since", "nope"], 2, "--since nope: not a day"),
    (["insights", "--config", "missing.toml"], 2, "missing.toml"),
    (["insights", "--format", "xml"], 2, "invalid choice: 'xml'"),
]


@pytest.mark.parametrize(("argv", "code", "needle"), CASES, ids=[" ".join(c[0]) or "(nothing)" for c in CASES])
def test_bad_input_gets_a_message_and_an_exit_code(argv, code, needle, workdir, capsys):
    got, out, err = run_cli(argv, capsys)
    assert got == code, (got, out, err)
    assert needle in out + err, (out, err)
    assert "Traceback" not in out + err
    if needle not in out:   # the message is on stderr, and short
        assert len(err.strip().splitlines()) <= 4, err
    # Nothing the user had was overwritten.
    assert (workdir / "exists.html").read_text(encoding="utf-8") == "keep me"
    assert (workdir / "audit.html").read_text(encoding="utf-8") == "older report"


def test_every_subcommand_is_driven_with_bad_input():
    parser = cli.build_parser()
    sub_action = next(a for a in parser._actions if a.dest == "command")
    driven = {argv[0] for argv, _, _ in CASES if argv}
    missing = set(sub_action.choices) - driven
    assert not missing, f"add a bad-input case for {sorted(missing)} to CASES in tests/test_cli_errors.py"


@pytest.mark.parametrize(
    "argv",
    [["run", "--upstream", "http://127.0.0.1:1", "--listen", "127.0.0.1:{port}"],
     ["run", "--upstream", "http://127.0.0.1:1", "--listen", "127.0.0.1:0", "--admin-listen", "127.0.0.1:{port}"]],
    ids=["listen", "admin"],
)
def test_a_port_in_use_is_named_with_the_fix(argv, taken_port, workdir, capsys):
    argv = [a.format(port=taken_port) for a in argv]
    code, out, err = run_cli(argv, capsys)
    assert code == 69
    assert f"127.0.0.1:{taken_port}: address already in use" in err
    assert ("--admin-listen off" in err) == ("--admin-listen" in argv)
    assert "Traceback" not in err


def test_an_internal_error_is_one_line_and_70(workdir, capsys, monkeypatch):
    def broken(args):
        raise RuntimeError("boom")

    monkeypatch.setattr(cli, "cmd_check_config", broken)
    code, out, err = run_cli(["check-config", "bad.toml"], capsys)
    assert code == 70
    assert "internal error (RuntimeError: boom)" in err and "-vv" in err and "Traceback" not in err
    code, out, err = run_cli(["-vv", "check-config", "bad.toml"], capsys)
    assert code == 70 and "Traceback" in err   # asked for: -vv shows it


def test_options_before_or_after_the_subcommand(workdir, capsys):
    """The README's own line: --config after the subcommand and its action."""
    site = workdir / "site.toml"
    site.write_text(f'[receipts]\nurl = "sqlite:///{workdir}/r.db"\n[sites.default]\nupstream = "http://127.0.0.1:1"\n', encoding="utf-8")
    for argv in (["receipts", "export", "--since", "2026-01-01", "--format", "csv", "--config", "site.toml"],
                 ["--config", "site.toml", "receipts", "export", "--since", "2026-01-01", "--format", "csv"],
                 ["receipts", "--config", "site.toml", "export", "--format", "csv", "--since", "2026-01-01"]):
        code, out, err = run_cli(argv, capsys)
        assert code == 0, err
        assert out.startswith("consent_id,")
    assert (workdir / "r.db").exists()


def test_bad_log_level_is_named_and_ignored(workdir, capsys, monkeypatch):
    monkeypatch.setenv("CONSENTRY_LOG_LEVEL", "loud")
    code, out, err = run_cli(["openapi"], capsys)
    assert code == 0 and "CONSENTRY_LOG_LEVEL=loud: not a level" in err


def test_real_processes_exit_cleanly(workdir):
    env = dict(os.environ, CONSENTRY_SECRET=SECRET, PYTHONPATH=str(ROOT))

    def run(*argv: str, stdin: bytes | None = None) -> subprocess.CompletedProcess[bytes]:
        return subprocess.run([sys.executable, "-m", "proxy", *argv], input=stdin, capture_output=True,
                              cwd=workdir, env=env, timeout=60, check=False)

    result = run("--version")
    assert result.returncode == 0 and result.stdout.startswith(b"consentry ")
    result = run("scan", "missing.html")
    assert result.returncode == 66 and b"Traceback" not in result.stderr
    # A reader that leaves early is not an error.
    big = b"<p>" + b"x" * 1_000_000 + b"<script src='https://www.google-analytics.com/analytics.js'></script>"
    (workdir / "big.html").write_bytes(big)
    proc = subprocess.Popen([sys.executable, "-m", "proxy", "rewrite", "big.html", "-q"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, cwd=workdir, env=env)
    assert proc.stdout is not None
    proc.stdout.read(10)
    proc.stdout.close()
    assert proc.stderr is not None
    with proc.stderr:
        err = proc.stderr.read()
    assert proc.wait(timeout=60) == 0 and b"Traceback" not in err


@pytest.mark.parametrize("argv", [["rewrite", "page.html", "-q"], ["scan", "page.html"]])
def test_commands_that_sign_nothing_do_not_ask_for_a_secret(argv, workdir, capsys, monkeypatch):
    monkeypatch.delenv("CONSENTRY_SECRET")
    code, out, err = run_cli(argv, capsys)
    assert code == 0, err
    assert "CONSENTRY_SECRET" not in err


def test_keys_generate_says_where_the_material_goes(workdir, capsys):
    code, out, err = run_cli(["keys", "generate", "--alg", "EdDSA", "--kid", "k1"], capsys)
    assert code == 0 and "[[consent.keys]]" in out and "BEGIN PRIVATE KEY" in out
    assert "nothing was saved" in err and "k1.pem" in err and "[consent]" in err
    code, out, err = run_cli(["keys", "generate", "--alg", "EdDSA", "--kid", "k2", "--output", "k2.pem"], capsys)
    assert code == 0 and "BEGIN PRIVATE KEY" not in out and 'private_key_file = "k2.pem"' in out
    assert (workdir / "k2.pem").stat().st_mode & 0o777 == 0o600
    assert "written to k2.pem" in err

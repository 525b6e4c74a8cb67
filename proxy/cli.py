"""The ``consentry`` command line (also ``python -m proxy``). All printing lives here.

Each subcommand parses its arguments, calls one library function and turns the result
into text and an exit code: 0 success, 1 a finding (e.g. a token that does not verify),
2 a usage or configuration error. Heavy imports (aiohttp, mitmproxy) happen inside the
subcommand that needs them so that ``consentry rewrite`` starts fast.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import os
import sys
from pathlib import Path
from collections.abc import Callable, Sequence
from typing import Any, BinaryIO
from datetime import UTC

EXIT_OK, EXIT_FINDING, EXIT_USAGE = 0, 1, 2
SAMPLE_PAGE = Path(__file__).parent / "samples" / "tracker-page.html"


def _err(text: str) -> None:
    print(text, file=sys.stderr)


# -- shared option handling -----------------------------------------------------------


def _load_config(path: str | None, upstream: str | None = None) -> Any:
    """The policy file, or the zero-config defaults; exits 2 with every problem on error."""
    from proxy.policy import ConfigError, default_config, load_config

    try:
        return default_config(upstream=upstream) if path is None else load_config(Path(path))
    except ConfigError as error:
        for problem in error.problems:
            _err(str(problem))
        raise SystemExit(EXIT_USAGE) from None
    except FileNotFoundError:
        _err(f"{path}: no such file; pass the path of a policy file (see config/example.toml)")
        raise SystemExit(EXIT_USAGE) from None


def _pick_site(config: Any, site_id: str | None) -> Any:
    if site_id is None:
        if "default" in config.sites:
            return config.sites["default"]
        return next(iter(config.sites.values()))
    if site_id in config.sites:
        return config.sites[site_id]
    site = config.site_for_host(site_id)
    if site is None:
        names = ", ".join(sorted(config.sites))
        _err(f"--site {site_id}: no such site in the policy; sites are: {names}")
        raise SystemExit(EXIT_USAGE)
    return site


def _simulated_consent(value: str | None, site: Any) -> Any:
    from proxy.consent import ConsentState

    categories = list(site.categories)
    if value is None or value.strip() in ("", "none"):
        return ConsentState.simulated("none", all_categories=categories)
    if value.strip() == "all":
        return ConsentState.simulated("all", all_categories=categories)
    names = [name.strip() for name in value.split(",") if name.strip()]
    unknown = [name for name in names if name not in categories]
    if unknown:
        _err(f"--consent: unknown categor{'y' if len(unknown) == 1 else 'ies'} {', '.join(unknown)}; this site has: {', '.join(categories)}")
        raise SystemExit(EXIT_USAGE)
    return ConsentState.simulated(names, all_categories=categories)


def _read_input(path: str | None) -> bytes:
    if path in (None, "-"):
        return sys.stdin.buffer.read()
    try:
        return Path(path).read_bytes()
    except OSError as error:
        _err(f"{path}: {error.strerror}")
        raise SystemExit(EXIT_USAGE) from None


# -- subcommands ----------------------------------------------------------------------


def cmd_rewrite(args: argparse.Namespace) -> int:
    from proxy.engine import Engine, Report

    config = _load_config(args.config)
    site = _pick_site(config, args.site)
    state = _simulated_consent(args.consent, site)
    engine = Engine(site)
    report = Report()
    rewriter = engine.rewriter(state, base_url=args.base_url, report=report, mode=args.mode)
    source = sys.stdin.buffer if args.file in (None, "-") else None
    out = sys.stdout.buffer
    handle: BinaryIO
    if source is None:
        try:
            handle = open(args.file, "rb")
        except OSError as error:
            _err(f"{args.file}: {error.strerror}")
            return EXIT_USAGE
    else:
        handle = source
    with handle:
        while chunk := handle.read(64 * 1024):
            out.write(rewriter.feed(chunk))
    out.write(rewriter.close())
    out.flush()
    if args.report:
        lines = [json.dumps(entry.as_dict()) for entry in report.entries]
        Path(args.report).write_text("\n".join(lines) + ("\n" if lines else ""), encoding="utf-8")
    if not args.quiet:
        _err(_summary(report, site, state, args.mode or site.mode))
    return EXIT_OK


def _summary(report: Any, site: Any, state: Any, mode: str) -> str:
    granted = ", ".join(sorted(state.categories))
    lines = [f"consentry: site {site.site_id}, mode {mode}, consent: {granted}"]
    for entry in report.entries:
        where = f"line {entry.line}"
        what = entry.vendor or {"rule": "site rule", "author": "marked by the site"}.get(entry.source, "unknown third party")
        lines.append(f"  {entry.action:<8} {entry.tag:<7} {what:<22} {entry.category or '-':<12} {where:<10} {entry.url or '(inline)'}")
    counts = report.counts()
    lines.append("  " + (", ".join(f"{n} {action}" for action, n in sorted(counts.items())) or "no trackers found"))
    return "\n".join(lines)


def cmd_scan(args: argparse.Namespace) -> int:
    from proxy import audit

    config = _load_config(args.config) if args.config else None

    def progress(done: int, total: int) -> None:
        if sys.stderr.isatty() and total > 1:
            width = 30
            filled = int(width * done / max(total, 1))
            sys.stderr.write(f"\r[{'#' * filled}{'.' * (width - filled)}] {done}/{total}")
            if done >= total:
                sys.stderr.write("\n")
            sys.stderr.flush()

    try:
        result = audit.scan_targets(
            args.targets,
            config=config,
            site_id=args.site,
            consent=args.consent or "none",
            depth=args.depth,
            mode=args.mode,
            same_site=not args.all_hosts,
            progress=progress,
        )
    except audit.SimulationError as error:
        _err(f"--{error.setting}: {error}")
        return EXIT_USAGE
    formatter = {"table": audit.format_table, "json": audit.format_json, "html": audit.format_html}[args.format]
    text = formatter(result)
    if args.output:
        Path(args.output).write_text(text, encoding="utf-8")
    else:
        sys.stdout.write(text if text.endswith("\n") else text + "\n")
    return EXIT_OK


def cmd_check_config(args: argparse.Namespace) -> int:
    from proxy.policy import check_config

    code, lines = check_config(Path(args.file))
    stream = sys.stdout if code == 0 else sys.stderr
    for line in lines:
        print(line, file=stream)
    return code


def cmd_keys_generate(args: argparse.Namespace) -> int:
    from proxy.consent import generate_key

    print(generate_key(args.alg, kid=args.kid))
    return EXIT_OK


def _keyring(config: Any) -> Any:
    from proxy.consent import KeyRing

    return KeyRing.from_specs(config.consent.keys)


def cmd_token_issue(args: argparse.Namespace) -> int:
    from proxy.consent import issue_token

    config = _load_config(args.config)
    site = _pick_site(config, args.site)
    state = _simulated_consent(args.consent, site)
    token, claims = issue_token(_keyring(config), site=site, categories=sorted(state.categories))
    print(token)
    if args.verbose:
        _err(json.dumps(claims, indent=2, sort_keys=True))
    return EXIT_OK


def cmd_token_verify(args: argparse.Namespace) -> int:
    from proxy.consent import verify_token_verbose

    config = _load_config(args.config)
    site = _pick_site(config, args.site) if args.site or args.config else None
    ok, detail = verify_token_verbose(_keyring(config), args.token.strip(), site=site)
    if ok:
        print(json.dumps(detail, indent=2, sort_keys=True))
        return EXIT_OK
    print(f"invalid: {detail}")
    return EXIT_FINDING


def cmd_receipts(args: argparse.Namespace) -> int:
    from datetime import datetime

    from proxy.receipts import ReceiptStoreError, export_lines, open_store

    config = _load_config(args.config)
    url = args.database or config.receipts.url

    async def run() -> int:
        store = await open_store(url, ip_salt=config.receipts.ip_salt)
        try:
            if args.receipts_command == "prune":
                days = args.days or config.receipts.retention_days
                deleted = await store.prune(days)
                print(f"pruned {deleted} receipt{'s' if deleted != 1 else ''} older than {days} days (receipts of consent still in force are kept)")
                return EXIT_OK
            if args.receipts_command == "export":
                since = None
                if args.since:
                    since = datetime.fromisoformat(args.since)
                    if since.tzinfo is None:
                        since = since.replace(tzinfo=UTC)
                rows = [receipt async for receipt in store.export(since=since)]
                for line in export_lines(rows, format=args.format):
                    sys.stdout.write(line if line.endswith("\n") else line + "\n")
                return EXIT_OK
            receipts = await store.get(args.consent_id)
            if not receipts:
                _err(f"no receipts for consent id {args.consent_id}")
                return EXIT_FINDING
            for line in export_lines(receipts, format="jsonl"):
                sys.stdout.write(line if line.endswith("\n") else line + "\n")
            return EXIT_OK
        finally:
            await store.close()

    try:
        return asyncio.run(run())
    except ReceiptStoreError as error:
        _err(f"receipts store {url}: {error}")
        return EXIT_USAGE
    except ValueError as error:
        _err(f"--since: {error}; use an ISO date such as 2026-01-31")
        return EXIT_USAGE


def cmd_run(args: argparse.Namespace) -> int:
    from proxy.server import run

    if args.config is None and args.upstream is None:
        _err("consentry run: give --config FILE, or --upstream URL for zero-config mode")
        return EXIT_USAGE
    config = _load_config(args.config, upstream=args.upstream)
    return run(config, config_path=Path(args.config) if args.config else None, listen=args.listen, workers=args.workers, announce=print) or EXIT_OK


def cmd_demo(args: argparse.Namespace) -> int:
    from proxy.demo import run_demo

    def announce(text: str) -> None:
        print(text, flush=True)

    try:
        asyncio.run(run_demo(announce, host=args.host, proxy_port=args.port))
    except KeyboardInterrupt:
        announce("demo stopped")
    return EXIT_OK


# -- parser ---------------------------------------------------------------------------


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="consentry", description="Enforce privacy consent at the edge.")
    parser.add_argument("-v", "--verbose", action="count", default=0, help="more logging (-vv for debug)")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    def add(name: str, handler: Callable[[argparse.Namespace], int], help_text: str) -> argparse.ArgumentParser:
        sub = commands.add_parser(name, help=help_text, description=help_text)
        sub.set_defaults(handler=handler)
        return sub

    demo = add("demo", cmd_demo, "start the bundled demo site with the proxy in front of it")
    demo.add_argument("--host", default="127.0.0.1")
    demo.add_argument("--port", type=int, default=0, help="proxy port (default: a free one)")

    run = add("run", cmd_run, "run the proxy in front of a site")
    run.add_argument("--config", help="policy file (TOML)")
    run.add_argument("--upstream", help="upstream URL for zero-config mode (no --config)")
    run.add_argument("--listen", help="HOST:PORT to listen on (overrides [proxy] listen)")
    run.add_argument("--workers", type=int, help="worker processes sharing the port")

    rewrite = add("rewrite", cmd_rewrite, "rewrite one HTML document to stdout")
    rewrite.add_argument("file", nargs="?", help="HTML file, or - for stdin")
    rewrite.add_argument("--config")
    rewrite.add_argument("--site", help="site id (the table key) or a host name")
    rewrite.add_argument("--consent", help="granted categories, comma-separated; 'all' for everything; empty for necessary only")
    rewrite.add_argument("--mode", choices=("defer", "strip"))
    rewrite.add_argument("--base-url", help="the page's address, for relative URLs")
    rewrite.add_argument("--report", help="write what was done as JSON lines to this file")
    rewrite.add_argument("-q", "--quiet", action="store_true", help="no summary on stderr")

    scan = add("scan", cmd_scan, "list the trackers of pages (files or URLs) and what the policy would do")
    scan.add_argument("targets", nargs="+", metavar="FILE|URL")
    scan.add_argument("--config")
    scan.add_argument("--site")
    scan.add_argument("--consent")
    scan.add_argument("--mode", choices=("defer", "strip"))
    scan.add_argument("--depth", type=int, default=0, help="follow same-site links to this depth (URLs only)")
    scan.add_argument("--all-hosts", action="store_true", help="also follow links to other hosts")
    scan.add_argument("--format", choices=("table", "json", "html"), default="table")
    scan.add_argument("-o", "--output", help="write to this file instead of stdout")

    check = add("check-config", cmd_check_config, "validate a policy file")
    check.add_argument("file")

    keys = add("keys", lambda a: EXIT_USAGE, "key management")
    key_commands = keys.add_subparsers(dest="keys_command", required=True, metavar="ACTION")
    generate = key_commands.add_parser("generate", help="print a new signing key ready for the config")
    generate.set_defaults(handler=cmd_keys_generate)
    generate.add_argument("--alg", choices=("EdDSA", "ES256", "HS256"), default="EdDSA")
    generate.add_argument("--kid")

    token = add("token", lambda a: EXIT_USAGE, "issue or verify consent tokens (for testing)")
    token_commands = token.add_subparsers(dest="token_command", required=True, metavar="ACTION")
    issue = token_commands.add_parser("issue", help="issue a consent token")
    issue.set_defaults(handler=cmd_token_issue)
    issue.add_argument("--consent", default="")
    issue.add_argument("--config")
    issue.add_argument("--site")
    issue.add_argument("--verbose", action="store_true", help="print the claims on stderr")
    verify = token_commands.add_parser("verify", help="verify a consent token")
    verify.set_defaults(handler=cmd_token_verify)
    verify.add_argument("token")
    verify.add_argument("--config")
    verify.add_argument("--site")

    receipts = add("receipts", lambda a: EXIT_USAGE, "proof-of-consent receipts for auditors")
    receipts.add_argument("--config")
    receipts.add_argument("--database", help="receipts database URL (overrides [receipts] url)")
    receipt_commands = receipts.add_subparsers(dest="receipts_command", required=True, metavar="ACTION")
    export = receipt_commands.add_parser("export", help="export receipts")
    export.set_defaults(handler=cmd_receipts)
    export.add_argument("--since", help="only receipts on or after this ISO date")
    export.add_argument("--format", choices=("jsonl", "csv"), default="jsonl")
    show = receipt_commands.add_parser("show", help="the receipts of one consent id")
    show.set_defaults(handler=cmd_receipts)
    show.add_argument("consent_id")
    prune = receipt_commands.add_parser("prune", help="delete receipts older than the retention period")
    prune.set_defaults(handler=cmd_receipts)
    prune.add_argument("--days", type=int, help="override [receipts] retention_days")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    level = logging.WARNING - 10 * min(args.verbose, 2)
    logging.basicConfig(level=level, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    if os.environ.get("CONSENTRY_LOG_LEVEL"):
        logging.getLogger().setLevel(os.environ["CONSENTRY_LOG_LEVEL"].upper())
    try:
        return int(args.handler(args) or 0)
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:
        # `consentry rewrite page.html | head`: the reader left; that is not an error.
        sys.stderr.close()
        return EXIT_OK

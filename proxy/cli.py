"""The ``consentry`` command line (also ``python -m proxy``). All printing lives here.

Each subcommand parses its arguments, calls one library function and turns the result
into text and an exit code. No traceback reaches the operator: every failure is one
line naming the problem and the fix, and an exit code in the sysexits style
(``docs/cli.md`` lists them): 0 success, 1 a finding (a token that does not verify,
``doctor`` found problems), 2 a usage or configuration error (as argparse and
``check-config`` do), 66 an input that cannot be read, 69 a service that is not
available (port in use, store unreachable), 70 an internal error (a bug: ``-vv``
shows the traceback), 73 an output that cannot be created (exists without ``--force``),
130 interrupted. Options that every command shares (``--config``, ``-v``,
``--log-format``) are accepted before or after the subcommand. Heavy imports
(aiohttp, mitmproxy) happen inside the subcommand that needs them so that
``consentry rewrite`` starts fast.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import errno
import json
import logging
import os
import sys
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, BinaryIO, NoReturn, TextIO

if TYPE_CHECKING:  # types only: each command loads what it needs when it runs
    import datetime

    from proxy.consent import ConsentState, KeyRing
    from proxy.engine import Report
    from proxy.policy import Config, SitePolicy

EXIT_OK, EXIT_FINDING, EXIT_USAGE = 0, 1, 2
EXIT_NOINPUT, EXIT_UNAVAILABLE, EXIT_SOFTWARE, EXIT_CANTCREAT, EXIT_INTERRUPTED = 66, 69, 70, 73, 130
LOG_LEVEL_ENV = "CONSENTRY_LOG_LEVEL"
LOG_FORMAT_ENV = "CONSENTRY_LOG_FORMAT"

log = logging.getLogger("consentry.cli")


class CliError(Exception):
    """A failure the operator can fix: one line of text and the exit code."""

    def __init__(self, message: str, code: int = EXIT_USAGE) -> None:
        super().__init__(message)
        self.code = code


def _err(text: str) -> None:
    print(text, file=sys.stderr)


def _fail(message: str, code: int = EXIT_USAGE) -> NoReturn:
    raise CliError(message, code)


# -- shared option handling -----------------------------------------------------------


@contextlib.contextmanager
def _no_secret_warning() -> Iterator[None]:
    """Commands that never sign a cookie (rewrite, scan) need no CONSENTRY_SECRET."""
    from proxy.policy.keyring import quiet_random_secret

    token = quiet_random_secret.set(True)
    try:
        yield
    finally:
        quiet_random_secret.reset(token)


def _load_config(path: str | None, upstream: str | None = None) -> Config:
    """The policy file, or the zero-config defaults; exits 2 with every problem on error."""
    from proxy.policy import ConfigError, default_config, load_config

    try:
        return default_config(upstream=upstream) if path is None else load_config(Path(path))
    except ConfigError as error:
        for problem in error.problems:
            _err(str(problem))
        raise SystemExit(EXIT_USAGE) from None
    except FileNotFoundError:
        _fail(f"{path}: no such file; pass the path of a policy file (start from config/minimal.toml)", EXIT_NOINPUT)
    except IsADirectoryError:
        _fail(f"{path}: is a directory; pass the path of a policy file (a .toml file)", EXIT_NOINPUT)
    except PermissionError:
        _fail(f"{path}: permission denied; make the policy file readable by this user", EXIT_NOINPUT)


def _pick_site(config: Config, site_id: str | None) -> SitePolicy:
    if site_id is None:
        if "default" in config.sites:
            return config.sites["default"]
        return next(iter(config.sites.values()))
    if site_id in config.sites:
        return config.sites[site_id]
    site = config.site_for_host(site_id)
    if site is None:
        names = ", ".join(sorted(config.sites))
        _fail(f"--site {site_id}: no such site in the policy; sites are: {names}")
    return site


def _simulated_consent(value: str | None, site: SitePolicy) -> ConsentState:
    from proxy.consent import ConsentState

    categories = list(site.categories)
    if value is None or value.strip() in ("", "none"):
        return ConsentState.simulated("none", all_categories=categories)
    if value.strip() == "all":
        return ConsentState.simulated("all", all_categories=categories)
    names = [name.strip() for name in value.split(",") if name.strip()]
    unknown = [name for name in names if name not in categories]
    if unknown:
        _fail(f"--consent: unknown categor{'y' if len(unknown) == 1 else 'ies'} {', '.join(unknown)}; "
              f"this site has: {', '.join(categories)}")
    return ConsentState.simulated(names, all_categories=categories)


def _writable_output(path: str, force: bool, what: str) -> Path:
    """``path`` if it may be written: an existing file needs ``--force``."""
    target = Path(path)
    if target.exists() and not force:
        _fail(f"{path}: already exists; pass --force to overwrite it, or -o another file for the {what}", EXIT_CANTCREAT)
    if not target.parent.is_dir():
        _fail(f"{path}: the directory {target.parent} does not exist; create it or choose another path", EXIT_CANTCREAT)
    return target


def _write_text(path: Path, text: str) -> None:
    try:
        path.write_text(text, encoding="utf-8")
    except OSError as error:
        _fail(f"{path}: cannot write ({error.strerror or error}); choose a writable path", EXIT_CANTCREAT)


def _config_path(args: argparse.Namespace) -> str | None:
    # getattr on argparse namespaces (here and below): each subcommand defines its own options.
    return getattr(args, "config", None)


# -- subcommands ----------------------------------------------------------------------


def cmd_rewrite(args: argparse.Namespace) -> int:
    from proxy.engine import Engine, Report

    with _no_secret_warning():
        config = _load_config(_config_path(args))
    site = _pick_site(config, args.site)
    state = _simulated_consent(args.consent, site)
    handle: BinaryIO
    if args.file in (None, "-"):
        if sys.stdin.isatty():
            _fail("rewrite: give an HTML file, or pipe one in: consentry rewrite page.html (or ... < page.html)")
        handle = sys.stdin.buffer
    else:
        try:
            handle = open(args.file, "rb")
        except OSError as error:
            _fail(f"{args.file}: {error.strerror}; give the path of an HTML file, or - for stdin", EXIT_NOINPUT)
    engine = Engine(site)
    report = Report()
    rewriter = engine.rewriter(state, base_url=args.base_url, report=report, mode=args.mode)
    out = sys.stdout.buffer
    try:
        with handle:
            while chunk := handle.read(64 * 1024):
                out.write(rewriter.feed(chunk))
    except IsADirectoryError:
        _fail(f"{args.file}: is a directory; give the path of an HTML file", EXIT_NOINPUT)
    out.write(rewriter.close())
    out.flush()
    if args.report:
        lines = [json.dumps(entry.as_dict()) for entry in report.entries]
        _write_text(Path(args.report), "\n".join(lines) + ("\n" if lines else ""))
    if not args.quiet:
        _err(_summary(report, site, state, args.mode or site.mode))
    return EXIT_OK


def _summary(report: Report, site: SitePolicy, state: ConsentState, mode: str) -> str:
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

    if args.depth < 0:
        _fail(f"--depth {args.depth}: give 0 (only the pages named) or more (links to follow)")
    output = _writable_output(args.output, args.force, "scan report") if args.output else None
    with _no_secret_warning():
        config = _load_config(_config_path(args)) if _config_path(args) else None

    def progress(done: int, total: int) -> None:
        if sys.stderr.isatty() and total > 1:
            width = 30
            filled = int(width * done / max(total, 1))
            sys.stderr.write(f"\r[{'#' * filled}{'.' * (width - filled)}] {done}/{total}")
            if done >= total:
                sys.stderr.write("\n")
            sys.stderr.flush()

    try:
        with _no_secret_warning():
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
        _fail(f"--{error.setting}: {error}")
    formatter = {"table": audit.format_table, "json": audit.format_json, "html": audit.format_html}[args.format]
    text = formatter(result)
    if output is not None:
        _write_text(output, text)
    else:
        sys.stdout.write(text if text.endswith("\n") else text + "\n")
    # A page that was named but could not be read is a failed scan, not an empty one.
    failed = [page for page in result.pages if page.depth == 0 and page.error]
    for page in failed:
        _err(f"consentry scan: {page.url}: {page.error}; check the path or that the URL answers")
    return EXIT_NOINPUT if failed else EXIT_OK


def cmd_catalogue_import(args: argparse.Namespace) -> int:
    from proxy.catalogue import Catalogue, CatalogueError
    from proxy.catalogue.importers import import_list, to_toml

    source = Path(args.file)
    try:
        text = source.read_text(encoding="utf-8-sig")
    except FileNotFoundError:
        _fail(f"{args.file}: no such file; give the list you downloaded (Disconnect services.json, "
              "an Adblock-Plus list such as easyprivacy.txt, or a Ghostery trackerdb.json)", EXIT_NOINPUT)
    except (OSError, UnicodeDecodeError) as error:
        _fail(f"{args.file}: cannot read it as UTF-8 text ({error}); give the list file itself", EXIT_NOINPUT)
    try:
        result = import_list(text, args.format, category=args.category, source=source.name)
    except CatalogueError as error:
        _fail(f"{args.file}: {error}; pick the format with --format disconnect|abp|ghostery", EXIT_USAGE)
    if not result.vendors:
        _fail(f"{args.file}: no host found in it as {result.format}; is it the right file (or --format)?", EXIT_NOINPUT)
    text_out = to_toml(result, source=source.name)
    try:
        overlay = Catalogue.from_bytes(text_out.encode("utf-8"), source=args.output or "<overlay>")
    except CatalogueError as error:  # the importer's own output must load; say so plainly if not
        _fail(f"internal error: the overlay does not load ({error}); please report it with the list", EXIT_SOFTWARE)
    adds = Catalogue.default().with_overlay(overlay)
    new_hosts = sum(len(v.hosts) for v in adds.vendors.values()) - sum(len(v.hosts) for v in Catalogue.default().vendors.values())
    if args.output:
        _write_text(_writable_output(args.output, args.force, "catalogue overlay"), text_out)
    else:
        sys.stdout.write(text_out)
    skipped = ", ".join(f"{count} {reason}" for reason, count in sorted(result.skipped.items())) or "nothing"
    _err(f"{args.file} ({result.format}): {len(result.vendors)} vendors, {result.hosts} host entries "
         f"({new_hosts} the shipped catalogue does not know); skipped: {skipped}")
    if args.output:
        _err(f'load it in a site policy with: catalogues = ["{args.output}"]')
    return EXIT_OK


def cmd_catalogue_lookup(args: argparse.Namespace) -> int:
    from urllib.parse import urlsplit

    from proxy.engine import Engine

    with _no_secret_warning():
        config = _load_config(_config_path(args))
    site = _pick_site(config, args.site)
    engine = Engine(site)
    url = args.url
    page = args.page
    page_host = (urlsplit(page).hostname if page else None) or None
    lines = [url]
    found = engine.catalogue.explain_url(url)
    matched = engine.matching_rule(url)
    if matched is not None:
        index, rule = matched
        lines.append(f"  decided by: rule #{index} of site {site.site_id} (category {rule.category}"
                     + (f", vendor {rule.vendor}" if rule.vendor else "") + ")")
    if found is not None:
        vendor = found.vendor
        lines.append(f"  vendor:     {vendor.id} ({vendor.name})")
        lines.append(f"  matched by: {found.how}: {found.entry}")
        lines.append(f"  catalogue:  {vendor.category}" + (f"; privacy policy {vendor.privacy_url}" if vendor.privacy_url else ""))
    result = engine.classify_url(url, page_host)
    if result is None:
        where = f"the page's own site ({page_host})" if page_host else "a relative URL (give --page URL to judge a host)"
        lines.append(f"  not a tracker: first party, {where}")
    elif result.unknown_third_party:
        setting = engine.unknown_third_party
        lines.append(f"  not in the catalogue: unknown third party; unknown_third_party = \"{setting}\" "
                     + ("lets it load without consent" if setting == "allow" else f"makes it need {setting} consent"))
        host = urlsplit(url if not url.startswith("//") else "https:" + url).hostname or url
        lines.append(f'  to classify it: rules = [{{ host = "{host}", category = "necessary" }}]  (or its category)')
    else:
        how = "site rule" if result.source == "rule" else "catalogue"
        if found is not None and result.category != found.vendor.category and result.source != "rule":
            why = "tag_manager_loads" if found.vendor.tag_manager else f"vendors.{found.vendor.id} override"
            how = f"site policy ({why})"
        override = f", always allowed ({result.override})" if result.override == "always" else (
            ", never allowed" if result.override == "never" else "")
        needs = "loads without consent" if result.category == "necessary" or result.override == "always" else f"needs {result.category} consent"
        lines.append(f"  on site {site.site_id}: {result.category} from the {how}{override}: {needs}")
    sys.stdout.write("\n".join(lines) + "\n")
    return EXIT_OK


def cmd_report(args: argparse.Namespace) -> int:
    from proxy.audit import format_html, format_table, html_path_for
    from proxy.audit.jsonl import read_report

    source = Path(args.file)
    if not source.is_file():
        _fail(f"{args.file}: no such file; give the JSON-lines report the mitmproxy addon wrote "
              "(--set consentry_report=audit.jsonl)", EXIT_NOINPUT)
    try:
        with source.open(encoding="utf-8") as handle:
            first = next((line for line in handle if line.strip()), "")
        record = json.loads(first) if first else None
        if not isinstance(record, dict) or "type" not in record:
            raise ValueError("its first line is not an audit record")
        result = read_report(source)
    except (OSError, UnicodeDecodeError, ValueError) as error:
        _fail(f"{args.file}: not a Consentry audit report ({error}); give the file consentry_report names", EXIT_NOINPUT)
    if args.format == "table":
        sys.stdout.write(format_table(result).rstrip("\n") + "\n")
        return EXIT_OK
    target = _writable_output(args.output or str(html_path_for(source)), args.force, "HTML report")
    _write_text(target, format_html(result))
    print(f"wrote {target}")
    return EXIT_OK


def cmd_check_config(args: argparse.Namespace) -> int:
    from proxy.policy import check_config

    file = args.file or _config_path(args)
    if not file:
        _fail("check-config: give the policy file: consentry check-config site.toml")
    if not Path(file).is_file():
        _fail(f"{file}: no such file; pass the path of a policy file (start from config/minimal.toml)", EXIT_NOINPUT)
    code, lines = check_config(Path(file))
    stream = sys.stdout if code == 0 else sys.stderr
    for line in lines:
        print(line, file=stream)
    return code


def cmd_keys_generate(args: argparse.Namespace) -> int:
    from proxy.consent.keys import generate_key_material

    key = generate_key_material(args.alg, kid=args.kid)
    if key.private_pem is None:
        print(key.text(), end="")
        _err("consentry keys generate: nothing was saved. Paste the table above into your policy file "
             "(under [consent], first in the list so it signs), or better, put the secret in an "
             "environment variable and reference it with secret_env = \"NAME\".")
        return EXIT_OK
    if args.output:
        pem = _writable_output(args.output, args.force, "private key")
        try:
            fd = os.open(pem, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
            with os.fdopen(fd, "w", encoding="ascii") as handle:
                handle.write(key.private_pem)
        except OSError as error:
            _fail(f"{pem}: cannot write ({error.strerror}); choose a writable path", EXIT_CANTCREAT)
        print(key.toml.replace(f'"{key.kid}.pem"', json.dumps(str(pem))), end="")
        _err(f"consentry keys generate: private key written to {pem} (mode 600). Paste the table above "
             "into your policy file under [consent], first in the list so it signs.")
        return EXIT_OK
    print(key.text(), end="" if key.text().endswith("\n") else "\n")
    _err(f"consentry keys generate: nothing was saved. Save the PEM block above as {key.kid}.pem next to "
         "your policy file (chmod 600) and paste the table into it under [consent]; "
         f"or run with --output {key.kid}.pem to write the key file directly.")
    return EXIT_OK


def _keyring(config: Config) -> KeyRing:
    from proxy.consent import KeyRing

    try:
        return KeyRing.from_specs(config.consent.keys)
    except (ValueError, OSError) as error:
        _fail(f"[consent] keys: {error}; check the key files and secrets (consentry doctor checks them all)")


def cmd_token_issue(args: argparse.Namespace) -> int:
    from proxy.consent import issue_token

    config = _load_config(_config_path(args))
    site = _pick_site(config, args.site)
    state = _simulated_consent(args.consent, site)
    token, claims = issue_token(_keyring(config), site=site, categories=sorted(state.categories))
    print(token)
    if args.claims:
        _err(json.dumps(claims, indent=2, sort_keys=True))
    return EXIT_OK


def cmd_token_verify(args: argparse.Namespace) -> int:
    from proxy.consent import verify_token_verbose

    config = _load_config(_config_path(args))
    site = _pick_site(config, args.site) if args.site or _config_path(args) else None
    ok, detail = verify_token_verbose(_keyring(config), args.token.strip(), site=site)
    if ok:
        print(json.dumps(detail, indent=2, sort_keys=True))
        return EXIT_OK
    print(f"invalid: {detail}")
    return EXIT_FINDING


def _parse_since(text: str | None) -> datetime.datetime | None:
    from datetime import UTC, datetime

    if not text:
        return None
    try:
        since = datetime.fromisoformat(text)
    except ValueError:
        _fail(f"--since {text}: not a date; use an ISO date such as 2026-01-31 (or 2026-01-31T12:00)")
    return since.replace(tzinfo=UTC) if since.tzinfo is None else since


def cmd_receipts(args: argparse.Namespace) -> int:
    from proxy.receipts import ReceiptStoreError, export_lines, open_store

    since = _parse_since(getattr(args, "since", None))
    if getattr(args, "days", None) is not None and args.days < 1:
        _fail(f"--days {args.days}: give a number of days, 1 or more")
    with _no_secret_warning():
        config = _load_config(_config_path(args))
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
                rows = [receipt async for receipt in store.export(since=since)]
                for line in export_lines(rows, format=args.format):
                    sys.stdout.write(line if line.endswith("\n") else line + "\n")
                return EXIT_OK
            if args.receipts_command == "texts":
                kept = await store.banner_texts(args.digest.strip())
                if kept is None:
                    _err(f"no banner texts kept for {args.digest}; digests are in the banner_texts_digest column of receipts export")
                    return EXIT_FINDING
                shown = json.loads(kept.canonical)
                print(json.dumps({"digest": kept.digest, "site": kept.site_id, "lang": kept.lang,
                                  "first_seen": kept.first_seen.isoformat(), "texts": shown["texts"]},
                                 indent=2, ensure_ascii=False))
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
        text = str(error)
        where = "" if _redact(url) in text else f"receipts store {_redact(url)}: "
        code = EXIT_USAGE if "is not a receipts URL" in text else EXIT_UNAVAILABLE
        _fail(f"{where}{text}; check [receipts] url or pass --database URL", code)
    except OSError as error:
        _fail(f"receipts store {_redact(url)}: {error.strerror or error}; check [receipts] url or pass --database URL", EXIT_UNAVAILABLE)


def _parse_day(text: str | None, option: str) -> datetime.date | None:
    from datetime import date

    if not text:
        return None
    try:
        return date.fromisoformat(text)
    except ValueError:
        _fail(f"{option} {text}: not a day; use YYYY-MM-DD such as 2026-01-31")


def cmd_insights(args: argparse.Namespace) -> int:
    from proxy.insights import SiteSpec, render_csv, render_json, render_table, site_insights
    from proxy.receipts import ReceiptStoreError, open_store

    since, until = _parse_day(args.since, "--since"), _parse_day(args.until, "--until")
    if since and until and since > until:
        _fail(f"--since {since} is after --until {until}; swap them")
    with _no_secret_warning():
        config = _load_config(_config_path(args))
    sites = [_pick_site(config, args.site)] if args.site else list(config.sites.values())
    url = args.database or config.receipts.url

    async def run() -> list[dict[str, Any]]:
        store = await open_store(url, ip_salt=config.receipts.ip_salt)
        try:
            return [await site_insights(store, SiteSpec.of(site), since=since, until=until) for site in sites]
        finally:
            await store.close()

    try:
        reports = asyncio.run(run())
    except ReceiptStoreError as error:
        _fail(f"receipts store {_redact(url)}: {error}; check [receipts] url or pass --database URL", EXIT_UNAVAILABLE)
    if args.format == "json":
        sys.stdout.write(render_json(reports, as_list=len(reports) != 1))
    elif args.format == "csv":
        sys.stdout.write(render_csv(reports))
    else:
        sys.stdout.write(render_table(reports))
    return EXIT_OK


def _redact(url: str) -> str:
    """A database URL without its password, for messages."""
    from urllib.parse import urlsplit

    try:
        parts = urlsplit(url)
    except ValueError:
        return "(invalid URL)"
    if parts.password:
        return url.replace(f":{parts.password}@", ":***@", 1)
    return url


def _listen_option(value: str | None, option: str, *, allow_off: bool = False) -> Any:
    """A ``HOST:PORT`` option as given (``:PORT`` means all interfaces), or ``off``."""
    from proxy.policy.fields import split_address

    if value is None:
        return None
    if allow_off and value.strip().lower() == "off":
        return "off"
    text = value.strip()
    if text.startswith(":"):
        text = "0.0.0.0" + text
    if text.isdigit():
        text = "127.0.0.1:" + text
    try:
        return split_address(text)
    except ValueError as error:
        hint = ", or off to disable it" if allow_off else ""
        _fail(f"{option} {value}: {error}; give HOST:PORT such as 127.0.0.1:8080{hint}")


def _announce_without_blocking(text: str) -> None:
    """Print the start-up banner on a thread of its own, with ``os.write``.

    A restarted worker 0 announces again, into a stdout that may be a full pipe nobody
    reads: a blocking print would stop its event loop before it served anything (and the
    watchdog would replace it, again and again). ``os.write`` holds no buffer lock, so a
    write still waiting when the process exits cannot stall the exit either.
    """
    import threading

    from proxy.loghandoff import FdStream

    try:
        fd = sys.stdout.fileno()
    except (AttributeError, OSError, ValueError):   # not a real file (a test's capture)
        print(text, flush=True)
        return
    threading.Thread(target=FdStream(fd).write, args=(text + "\n",), name="consentry-announce", daemon=True).start()


def cmd_run(args: argparse.Namespace) -> int:
    from proxy.server import run
    from proxy.server.run import ListenError

    config_path = _config_path(args)
    if config_path is None and args.upstream is None:
        _fail("run: give --config FILE (a policy file), or --upstream URL for zero-config mode")
    if config_path is not None and args.upstream is not None:
        _fail(f"run: --upstream {args.upstream} and --config {config_path} conflict: the policy file names each "
              "site's upstream; drop --upstream, or drop --config for zero-config mode")
    if args.workers is not None and not 1 <= args.workers <= 64:
        _fail(f"--workers {args.workers}: give 1 to 64 worker processes")
    listen = _listen_option(args.listen, "--listen")
    admin = _listen_option(args.admin_listen, "--admin-listen", allow_off=True)
    config = _load_config(config_path, upstream=args.upstream)
    if admin is None and config_path is None:
        # Zero-config: a free loopback port, printed, so instances on different ports coexist.
        admin = ("127.0.0.1", 0)
    try:
        return run(
            config, config_path=Path(config_path) if config_path else None, listen=listen,
            admin_listen=False if admin == "off" else admin, workers=args.workers,
            access_log=args.access_log, announce=_announce_without_blocking,
        ) or EXIT_OK
    except ListenError as error:
        _fail(str(error), EXIT_UNAVAILABLE)


def cmd_demo(args: argparse.Namespace) -> int:
    from proxy.demo import run_demo

    def announce(text: str) -> None:
        print(text, flush=True)

    if not 0 <= args.port < 65536:
        _fail(f"--port {args.port}: give a port from 1 to 65535, or 0 for a free one")
    try:
        asyncio.run(run_demo(announce, host=args.host, proxy_port=args.port))
    except KeyboardInterrupt:
        announce("demo stopped")
    except OSError as error:
        if error.errno in (errno.EADDRINUSE, errno.EADDRNOTAVAIL, errno.EACCES):
            _fail(f"demo: cannot listen on {args.host}:{args.port} ({error.strerror}); "
                  "pick another with --port (0: a free one) or --host", EXIT_UNAVAILABLE)
        raise
    return EXIT_OK


def cmd_doctor(args: argparse.Namespace) -> int:
    from proxy.doctor import run_checks

    config_path = _config_path(args)
    if config_path is not None and args.upstream is not None:
        _fail("doctor: --upstream and --config conflict; the policy file names each site's upstream")
    listen = _listen_option(args.listen, "--listen")
    admin = _listen_option(args.admin_listen, "--admin-listen", allow_off=True)
    print(f"consentry doctor: {'policy ' + config_path if config_path else 'zero-config'}")
    from proxy.policy import ConfigError, default_config, load_config

    try:
        with _no_secret_warning():   # the key check below reports a random key itself
            config = load_config(Path(config_path)) if config_path else default_config(upstream=args.upstream)
    except ConfigError as error:
        print("FAIL  policy: the file does not load; fix these lines:")
        for problem in error.problems:
            print(f"        {problem}")
        return EXIT_FINDING
    except OSError as error:
        _fail(f"{config_path}: {error.strerror or error}; pass the path of a policy file", EXIT_NOINPUT)
    if admin is None and config_path is None:
        admin = ("127.0.0.1", 0)   # what `run` does in zero-config mode
    checks = run_checks(config, listen=listen, admin_listen=admin, timeout=args.timeout,
                        zero_config=config_path is None)
    marks = {"ok": "ok  ", "warn": "WARN", "fail": "FAIL"}
    for check in checks:
        print(f"{marks[check.status]}  {check.name}: {check.detail}")
        if check.fix and check.status != "ok":
            print(f"        fix: {check.fix}")
    failed = sum(1 for c in checks if c.status == "fail")
    warned = sum(1 for c in checks if c.status == "warn")
    print(f"{failed} problem{'s' if failed != 1 else ''}, {warned} warning{'s' if warned != 1 else ''}")
    return EXIT_FINDING if failed else EXIT_OK


def cmd_openapi(args: argparse.Namespace) -> int:
    from proxy.api.openapi import openapi_json

    text = openapi_json(args.prefix)
    if args.output:
        _write_text(_writable_output(args.output, args.force, "OpenAPI document"), text)
        print(f"wrote {args.output}")
    else:
        sys.stdout.write(text)
    return EXIT_OK


# -- parser ---------------------------------------------------------------------------


def _version_text() -> str:
    from proxy import __version__

    return f"consentry {__version__} (Python {sys.version.split()[0]})"


class _Parser(argparse.ArgumentParser):
    """argparse with the fix in the message: usage errors end with where to get help."""

    def error(self, message: str) -> NoReturn:
        if "required: COMMAND" in message or "required: ACTION" in message:
            choices = next((a.choices for a in self._actions if isinstance(a, argparse._SubParsersAction)), {})
            message += f" (one of: {', '.join(choices)})"
        self.exit(EXIT_USAGE, f"{self.prog}: error: {message}; see '{self.prog} --help'\n")


def _common(config: bool = True) -> argparse.ArgumentParser:
    """Options every subcommand accepts, before or after its name (defaults suppressed so
    that a value given before the subcommand is not reset by the subcommand's default)."""
    parent = argparse.ArgumentParser(add_help=False, argument_default=argparse.SUPPRESS)
    parent.add_argument("-v", "--verbose", action="count",
                        help="more logging: -v info, -vv debug (also CONSENTRY_LOG_LEVEL=debug); -vv shows tracebacks")
    parent.add_argument("--log-format", choices=("text", "json"),
                        help="log lines as text (default) or one JSON object per line (also CONSENTRY_LOG_FORMAT)")
    if config:
        parent.add_argument("--config", metavar="FILE", help="policy file (TOML); without it, the built-in zero-config policy")
    return parent


def build_parser() -> argparse.ArgumentParser:
    common = _common()
    parser = _Parser(
        prog="consentry", parents=[common],
        description="Enforce privacy consent at the edge. Every command: consentry COMMAND --help. "
                    "Reference with an example per command: docs/cli.md.",
        epilog="exit codes: 0 ok, 1 finding, 2 usage or configuration error, 66 input not readable, "
               "69 service unavailable (port in use, store unreachable), 70 internal error, "
               "73 output not created (exists: --force), 130 interrupted",
    )
    parser.add_argument("--version", action="version", version=_version_text(), help="print the version and exit")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND", parser_class=_Parser)

    def add(name: str, handler: Callable[[argparse.Namespace], int] | None, help_text: str, *,
            config: bool = True, under: Any = commands) -> argparse.ArgumentParser:
        sub: argparse.ArgumentParser = under.add_parser(name, help=help_text, description=help_text, parents=[_common(config)])
        if handler is not None:
            sub.set_defaults(handler=handler)
        return sub

    demo = add("demo", cmd_demo, "start the bundled demo site with the proxy in front of it", config=False)
    demo.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1)")
    demo.add_argument("--port", type=int, default=0, help="proxy port (default: a free one, printed)")

    run = add("run", cmd_run, "run the proxy in front of a site (--config FILE, or --upstream URL for zero-config)")
    run.add_argument("--upstream", metavar="URL", help="the site to protect, for zero-config mode (not with --config)")
    run.add_argument("--listen", metavar="HOST:PORT", help="where visitors connect (default [proxy] listen, 0.0.0.0:8080)")
    run.add_argument("--admin-listen", metavar="HOST:PORT|off",
                     help="/healthz, /readyz, /metrics (default [proxy] admin_listen, 127.0.0.1:9090; "
                          "zero-config: a free loopback port, printed); off: no admin listener")
    run.add_argument("--workers", type=int, metavar="N", help="worker processes sharing the port (default [proxy] workers, 1)")
    run.add_argument("--access-log", choices=("off", "common", "json"),
                     help="one line per request on stdout: common (default, no client address or query), json, or off")

    rewrite = add("rewrite", cmd_rewrite, "rewrite one HTML document to stdout, as the proxy would")
    rewrite.add_argument("file", nargs="?", metavar="FILE", help="HTML file, or - (or nothing) for stdin")
    rewrite.add_argument("--site", help="site id (the table key) or a host name from the policy")
    rewrite.add_argument("--consent", metavar="CATS", help="granted categories, comma-separated; 'all' for everything; empty for necessary only")
    rewrite.add_argument("--mode", choices=("defer", "strip"), help="what to do with refused trackers (default: the site's mode)")
    rewrite.add_argument("--base-url", metavar="URL", help="the page's address, for relative URLs and first-party checks")
    rewrite.add_argument("--report", metavar="FILE", help="write what was done as JSON lines to this file")
    rewrite.add_argument("-q", "--quiet", action="store_true", help="no summary on stderr")

    scan = add("scan", cmd_scan, "list the trackers of pages (files or URLs) and what the policy would do")
    scan.add_argument("targets", nargs="+", metavar="FILE|URL", help="HTML files and http(s) URLs")
    scan.add_argument("--site", help="site id or host name whose policy applies (default: by URL host)")
    scan.add_argument("--consent", metavar="CATS", help="consent to simulate: none (default), all, or a comma list")
    scan.add_argument("--mode", choices=("defer", "strip"), help="override the site's mode")
    scan.add_argument("--depth", type=int, default=0, help="follow same-site links to this depth (URLs only; default 0)")
    scan.add_argument("--all-hosts", action="store_true", help="also follow links to other hosts")
    scan.add_argument("--format", choices=("table", "json", "html"), default="table", help="output format (default table)")
    scan.add_argument("-o", "--output", metavar="FILE", help="write to this file instead of stdout (refuses to overwrite without --force)")
    scan.add_argument("--force", action="store_true", help="overwrite the --output file")

    catalogue = add("catalogue", None, "the tracker catalogue: import an outside list as an overlay, explain a URL", config=False)
    catalogue_commands = catalogue.add_subparsers(dest="catalogue_command", required=True, metavar="ACTION", parser_class=_Parser)
    importer = add("import", cmd_catalogue_import,
                   "turn a Disconnect services.json, an Adblock-Plus list (EasyPrivacy) or a Ghostery TrackerDB "
                   "export into a catalogue overlay a site loads with catalogues = [...]",
                   config=False, under=catalogue_commands)
    importer.add_argument("file", metavar="LIST", help="the list file you have (its licence applies to the overlay)")
    importer.add_argument("--format", choices=("disconnect", "abp", "ghostery"), help="the list's format (default: detected)")
    importer.add_argument("--category", default="marketing", choices=("necessary", "preferences", "analytics", "marketing"),
                          help="category for Adblock-Plus lists, which carry none (default marketing; analytics for EasyPrivacy)")
    importer.add_argument("-o", "--output", metavar="FILE", help="write the overlay here instead of stdout")
    importer.add_argument("--force", action="store_true", help="overwrite the --output file")
    lookup = add("lookup", cmd_catalogue_lookup, "explain which catalogue entry or policy rule decides a URL, and why",
                 under=catalogue_commands)
    lookup.add_argument("url", metavar="URL", help="the URL to judge (a script, pixel, frame ...)")
    lookup.add_argument("--page", metavar="URL", help="the page it is on, for the first-party check")
    lookup.add_argument("--site", help="site id or host name whose policy applies (default: the first site)")

    report = add("report", cmd_report, "turn the mitmproxy addon's audit.jsonl into audit.html (or a table)", config=False)
    report.add_argument("file", metavar="AUDIT.jsonl", help="the JSON-lines report of --set consentry_report=...")
    report.add_argument("-o", "--output", metavar="FILE", help="where the HTML goes (default: next to the input, .html)")
    report.add_argument("--format", choices=("html", "table"), default="html", help="html file (default) or a table on stdout")
    report.add_argument("--force", action="store_true", help="overwrite an existing HTML file")

    check = add("check-config", cmd_check_config, "validate a policy file: ok, or every problem as FILE:LINE: key: message")
    check.add_argument("file", nargs="?", metavar="FILE", help="the policy file (or --config FILE)")

    doctor = add("doctor", cmd_doctor, "check a policy against reality: upstreams, keys, receipts store, ports, trusted proxies")
    doctor.add_argument("--upstream", metavar="URL", help="check zero-config mode with this upstream (not with --config)")
    doctor.add_argument("--listen", metavar="HOST:PORT", help="the listen address to check (default [proxy] listen)")
    doctor.add_argument("--admin-listen", metavar="HOST:PORT|off", help="the admin address to check (default [proxy] admin_listen)")
    doctor.add_argument("--timeout", type=float, default=3.0, help="seconds to wait for each upstream (default 3)")

    keys = add("keys", None, "key management: consentry keys generate", config=False)
    key_commands = keys.add_subparsers(dest="keys_command", required=True, metavar="ACTION", parser_class=_Parser)
    generate = add("generate", cmd_keys_generate,
                   "make a signing key: prints the [[consent.keys]] table for your policy file (and the PEM, or writes it with --output)",
                   config=False, under=key_commands)
    generate.add_argument("--alg", choices=("EdDSA", "ES256", "HS256"), default="EdDSA", help="signature algorithm (default EdDSA)")
    generate.add_argument("--kid", help="key id (default: today's date and a random suffix)")
    generate.add_argument("-o", "--output", metavar="FILE", help="write the private key (PEM, mode 600) to FILE instead of stdout")
    generate.add_argument("--force", action="store_true", help="overwrite the --output file")

    token = add("token", None, "issue or verify consent tokens (for testing)", config=False)
    token_commands = token.add_subparsers(dest="token_command", required=True, metavar="ACTION", parser_class=_Parser)
    issue = add("issue", cmd_token_issue, "issue a consent token (the cookie value) signed with the policy's key", under=token_commands)
    issue.add_argument("--consent", metavar="CATS", default="", help="granted categories, comma-separated ('all' for everything)")
    issue.add_argument("--site", help="site id or host name (default: the first site)")
    issue.add_argument("--claims", action="store_true", help="also print the claims on stderr")
    verify = add("verify", cmd_token_verify, "verify a consent token and print its claims (exit 1 if invalid)", under=token_commands)
    verify.add_argument("token", help="the cookie value (a JWT)")
    verify.add_argument("--site", help="site id or host name the token must be addressed to")

    receipts = add("receipts", None, "proof-of-consent receipts for auditors: export, show, prune, texts")
    receipts.add_argument("--database", metavar="URL", default=None, help="receipts database URL (overrides [receipts] url)")
    receipt_commands = receipts.add_subparsers(dest="receipts_command", required=True, metavar="ACTION", parser_class=_Parser)

    def add_receipts(name: str, help_text: str) -> argparse.ArgumentParser:
        sub = add(name, cmd_receipts, help_text, under=receipt_commands)
        sub.add_argument("--database", metavar="URL", default=argparse.SUPPRESS, help="receipts database URL (overrides [receipts] url)")
        return sub

    export = add_receipts("export", "export receipts (JSON lines or CSV) on stdout")
    export.add_argument("--since", metavar="DATE", help="only receipts on or after this ISO date (2026-01-31)")
    export.add_argument("--format", choices=("jsonl", "csv"), default="jsonl", help="jsonl (default) or csv")
    show = add_receipts("show", "the receipts of one consent id (exit 1 if none)")
    show.add_argument("consent_id", help="the consent id (the cookie's sub claim, /_consent/status consent_id)")
    prune = add_receipts("prune", "delete receipts older than the retention period")
    prune.add_argument("--days", type=int, help="override [receipts] retention_days")
    texts = add_receipts("texts", "the exact banner texts behind a receipt's banner_texts_digest (exit 1 if unknown)")
    texts.add_argument("digest", metavar="DIGEST", help="sha256:... from the banner_texts_digest column")

    insights = add("insights", cmd_insights, "decision and acceptance rates, per day and per banner variant, from the receipts")
    insights.add_argument("--site", help="site id or host name (default: every site; JSON is then a list)")
    insights.add_argument("--since", metavar="YYYY-MM-DD", help="first UTC day to include")
    insights.add_argument("--until", metavar="YYYY-MM-DD", help="last UTC day to include")
    insights.add_argument("--format", choices=("table", "json", "csv"), default="table", help="output format (default table)")
    insights.add_argument("--database", metavar="URL", help="receipts database URL (overrides [receipts] url)")

    openapi = add("openapi", cmd_openapi, "print the OpenAPI 3.1 document of the consent API", config=False)
    openapi.add_argument("--prefix", default="/_consent", help="the site's consent path (default /_consent)")
    openapi.add_argument("-o", "--output", metavar="FILE", help="write to FILE instead of stdout")
    openapi.add_argument("--force", action="store_true", help="overwrite the --output file")
    return parser


# -- logging --------------------------------------------------------------------------


class JsonFormatter(logging.Formatter):
    """One JSON object per log line: time, level, logger, message (and the traceback)."""

    def format(self, record: logging.LogRecord) -> str:
        entry = {
            "time": self.formatTime(record, "%Y-%m-%dT%H:%M:%S") + f".{int(record.msecs):03d}Z",
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
        }
        if record.exc_info:
            entry["traceback"] = self.formatException(record.exc_info)
        return json.dumps(entry, ensure_ascii=False)


def _log_handler(stream: TextIO, formatter: logging.Formatter, *, name: str, size: int,
                 serving: bool) -> logging.Handler:
    """A handler writing to ``stream``. For ``run`` the record goes through a bounded queue
    to a writer thread that writes the descriptor (proxy.loghandoff): a destination that
    stops reading drops (and counts) records instead of blocking the event loop."""
    if serving:
        from proxy.loghandoff import FdStream, hand_off

        try:
            fd = stream.fileno()
        except (AttributeError, OSError, ValueError):   # not a real file (an embedding's stream)
            fd = -1
        if fd >= 0:
            target = logging.StreamHandler(FdStream(fd, stream.encoding or "utf-8"))
            target.setFormatter(formatter)
            return hand_off(name, target, size)
    handler = logging.StreamHandler(stream)
    handler.setFormatter(formatter)
    return handler


def configure_logging(args: argparse.Namespace) -> None:
    """Levels: run logs INFO (start-up, reloads), the other commands WARNING;
    -v one step more, -vv DEBUG; CONSENTRY_LOG_LEVEL wins. Logs go to stderr."""
    verbose = getattr(args, "verbose", 0) or 0
    base = logging.INFO if args.command == "run" else logging.WARNING
    level = max(logging.DEBUG, base - 10 * verbose)
    env_level = os.environ.get(LOG_LEVEL_ENV, "").strip().upper()
    if env_level:
        if env_level in ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"):
            level = logging.getLevelNamesMapping()[env_level]
        else:
            _err(f"{LOG_LEVEL_ENV}={env_level.lower()}: not a level; use debug, info, warning or error (using {logging.getLevelName(level).lower()})")
    fmt = getattr(args, "log_format", None) or os.environ.get(LOG_FORMAT_ENV, "text").strip().lower()
    serving = args.command in ("run", "demo")   # an event loop serves: never block it on a log write
    formatter = JsonFormatter() if fmt == "json" else logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s")
    root = logging.getLogger()
    root.handlers[:] = [_log_handler(sys.stderr, formatter, name="log", size=1_000, serving=serving)]
    root.setLevel(level)
    # The access log (one line per request, see proxy.server.accesslog) goes to stdout on
    # its own, whatever the level of the other logs; `run --access-log off` turns it off.
    access = logging.getLogger("consentry.access")
    access.handlers[:] = [_log_handler(sys.stdout, logging.Formatter("%(message)s"), name="access", size=10_000,
                                       serving=serving)]
    access.propagate = False
    access.setLevel(logging.INFO)
    logging.getLogger("aiohttp.access").setLevel(logging.WARNING)


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    configure_logging(args)
    try:
        return int(args.handler(args) or 0)
    except CliError as error:
        _err(f"consentry {args.command}: {error}" if not str(error).startswith(args.command) else f"consentry {error}")
        return error.code
    except KeyboardInterrupt:
        return EXIT_INTERRUPTED
    except BrokenPipeError:
        # `consentry rewrite page.html | head`: the reader left; that is not an error.
        with contextlib.suppress(OSError):
            sys.stdout = open(os.devnull, "w")   # noqa: SIM115 - keeps the interpreter's final flush quiet
        return EXIT_OK
    except Exception as error:   # noqa: BLE001 - the last line of defence: a bug, told in one line
        log.debug("internal error", exc_info=True)
        _err(f"consentry {args.command}: internal error ({type(error).__name__}: {error}). This is a bug: "
             "rerun with -vv for the traceback and report it.")
        return EXIT_SOFTWARE

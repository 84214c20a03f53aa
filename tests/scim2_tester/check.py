#!/usr/bin/env python3
"""Run the scim2-tester conformance checks against a running SCIM server.

Usage:
    check.py --url http://127.0.0.1:8080/scim/v2 --token TOKEN [options]

Prints one line per check result, then the number of results per status,
then a final line ``N passed, N failed``. Exits 0 only when every check
that ran reports SUCCESS (and the expected resource types were exercised).

Counting rules:
  * passed = results whose status is SUCCESS.
  * failed = every other result, SKIPPED included.  scim2-tester marks a
    check SKIPPED when the server advertises that PATCH is unsupported, when
    its published schemas leave nothing to test, or when it answers
    ``POST /.search`` with a 501 error.  All of those are decisions of the
    server under test, so they are not excused here.
  * The single exception is a check skipped because of *our own* tag
    filtering (``--include-tags`` / ``--exclude-tags``): the operator asked
    for it, it says nothing about the server, so it is printed but counted
    neither as passed nor as failed.
  * scim2-tester silently stops after discovery when the server's discovery
    endpoints cannot be used, so no per-resource check appears at all.  Each
    resource type listed in ``--expect-resource-types`` that produced no
    result is therefore reported as one extra failure.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections import Counter
from typing import Any

try:
    from httpx2 import Client
    from scim2_client.engines.httpx2 import SyncSCIMClient
    from scim2_tester import CheckResult, Status, check_server
except ImportError as exc:  # pragma: no cover - environment problem
    sys.stderr.write(
        f"check.py: cannot import scim2-tester ({exc}).\n"
        "Run scripts/setup-test-deps and use the .venv interpreter.\n"
    )
    sys.exit(2)

# Reasons scim2-tester gives when *we* filtered a check out (see utils.checker).
OPERATOR_SKIP_REASONS = (
    "Skipped due to tag filtering",
    "Skipped due to tag exclusion",
)

DETAIL_LIMIT = 2000


def _package_version(name: str) -> str:
    try:
        from importlib.metadata import version

        return version(name)
    except Exception:  # pragma: no cover - metadata missing
        return "unknown"


def _one_line(text: str | None) -> str:
    return " | ".join(part.strip() for part in (text or "").splitlines() if part.strip())


def _subject(result: CheckResult) -> str:
    """Name a result: resource type, checker, and what the sub-check was about."""
    name = result.title or "<untitled>"
    if result.resource_type:
        name = f"{result.resource_type}/{name}"
    data = result.data
    if isinstance(data, dict) and isinstance(data.get("urn"), str):
        name += f"[{data['urn']}]"
    elif result.title and result.title.endswith("_endpoint_methods") and result.reason:
        method = result.reason.split(" ", 1)[0]
        if method in {"POST", "PUT", "PATCH", "DELETE"}:
            name += f"[{method}]"
    return name


def _to_jsonable(value: Any) -> Any:
    """Best-effort conversion of debugging data into something json.dumps accepts."""
    if value is None or isinstance(value, (str, int, float, bool)):
        return value
    if isinstance(value, dict):
        return {str(k): _to_jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple, set)):
        return [_to_jsonable(v) for v in value]
    if hasattr(value, "model_dump"):
        try:
            return value.model_dump(mode="json", exclude_none=True, by_alias=True)
        except Exception:
            pass
    if hasattr(value, "status_code") and hasattr(value, "text"):
        return {"http_status": value.status_code, "body": value.text[:DETAIL_LIMIT]}
    if isinstance(value, BaseException):
        source = getattr(value, "source", None)
        out: dict[str, Any] = {"exception": f"{type(value).__name__}: {value}"}
        if source is not None:
            out["source"] = _to_jsonable(source)
        return out
    return repr(value)


def _details(result: CheckResult) -> str:
    if result.data is None:
        return ""
    try:
        text = json.dumps(_to_jsonable(result.data), ensure_ascii=False, sort_keys=True)
    except Exception:
        text = repr(result.data)
    if len(text) > DETAIL_LIMIT:
        text = text[:DETAIL_LIMIT] + f"... ({len(text) - DETAIL_LIMIT} more chars)"
    return text


def _parse_tags(raw: str | None) -> set[str] | None:
    if not raw:
        return None
    tags = {tag.strip() for tag in raw.split(",") if tag.strip()}
    return tags or None


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n", 1)[0])
    parser.add_argument("--url", required=True, help="SCIM base URL, e.g. http://127.0.0.1:8080/scim/v2")
    parser.add_argument("--token", required=True, help="bearer token sent with every request")
    parser.add_argument("--timeout", type=float, default=30.0, help="per-request timeout in seconds")
    parser.add_argument("--include-tags", help="comma-separated scim2-tester tags to run (default: all)")
    parser.add_argument("--exclude-tags", help="comma-separated scim2-tester tags to skip")
    parser.add_argument(
        "--resource-types",
        help="comma-separated resource type names to test (default: all the server publishes)",
    )
    parser.add_argument(
        "--expect-resource-types",
        default="User,Group",
        help="resource types that must produce results (default: User,Group; '' to disable)",
    )
    parser.add_argument("--cacert", help="CA bundle / certificate to trust for https URLs")
    parser.add_argument("--insecure", action="store_true", help="do not verify TLS certificates")
    parser.add_argument("--no-details", action="store_true", help="do not print debugging data of failures")
    parser.add_argument("--json-report", metavar="FILE", help="also write every result as JSON to FILE")
    args = parser.parse_args(argv)

    verify: Any = True
    if args.insecure:
        verify = False
    elif args.cacert:
        verify = args.cacert

    include_tags = _parse_tags(args.include_tags)
    exclude_tags = _parse_tags(args.exclude_tags)
    resource_types = sorted(_parse_tags(args.resource_types) or []) or None

    print(
        f"scim2-tester {_package_version('scim2-tester')} "
        f"(scim2-client {_package_version('scim2-client')}, "
        f"scim2-models {_package_version('scim2-models')}) against {args.url}"
    )
    sys.stdout.flush()

    http = Client(
        base_url=args.url,
        headers={"Authorization": f"Bearer {args.token}"},
        timeout=args.timeout,
        verify=verify,
    )
    try:
        results = check_server(
            SyncSCIMClient(http),
            raise_exceptions=False,
            include_tags=include_tags,
            exclude_tags=exclude_tags,
            resource_types=resource_types,
        )
    finally:
        http.close()

    counts: Counter[str] = Counter()
    passed = failed = excused = 0
    report: list[dict[str, Any]] = []

    for result in results:
        status = result.status.name
        counts[status] += 1
        subject = _subject(result)
        operator_skip = result.status == Status.SKIPPED and (result.reason or "").startswith(
            OPERATOR_SKIP_REASONS
        )
        if result.status == Status.SUCCESS:
            passed += 1
            print(f"{status:<8} {subject}")
        else:
            if operator_skip:
                excused += 1
            else:
                failed += 1
            print(f"{status:<8} {subject}: {_one_line(result.reason) or '(no reason given)'}")
            if not args.no_details and not operator_skip:
                details = _details(result)
                if details:
                    print(f"         data: {details}")
        report.append(
            {
                "status": status,
                "name": subject,
                "title": result.title,
                "resource_type": result.resource_type,
                "reason": result.reason,
                "tags": sorted(result.tags),
                "data": _to_jsonable(result.data),
            }
        )

    expected = sorted(_parse_tags(args.expect_resource_types) or [])
    if resource_types:
        expected = [name for name in expected if name in resource_types]
    exercised = {result.resource_type for result in results if result.resource_type}
    for name in expected:
        if name not in exercised:
            failed += 1
            counts["MISSING"] += 1
            reason = (
                f"no check ran for resource type {name!r} "
                "(not published, or discovery failed before the CRUD checks)"
            )
            print(f"{'MISSING':<8} {name}/*: {reason}")
            report.append({"status": "MISSING", "name": f"{name}/*", "reason": reason})

    if not results:
        failed += 1
        counts["MISSING"] += 1
        print("MISSING  *: scim2-tester returned no result at all")

    print()
    print("Results per status:")
    for status in [s.name for s in Status] + ["MISSING"]:
        if counts.get(status):
            print(f"  {status:<10} {counts[status]}")
    if excused:
        print(f"  ({excused} skipped by tag filtering, counted neither passed nor failed)")

    if args.json_report:
        with open(args.json_report, "w", encoding="utf-8") as handle:
            json.dump(report, handle, indent=2, ensure_ascii=False, default=repr)

    if passed == 0 and failed == 0:
        # Everything was filtered out: running nothing is not a success.
        failed = 1
        print("nothing was checked (every check filtered out)")

    print(f"{passed} passed, {failed} failed")
    return 0 if failed == 0 else 1


if __name__ == "__main__":
    sys.exit(main())

"""Load, validate and compile generated workflows; print the time and the cost of each.

    .venv/bin/python bench/workflows.py [--count 1000] [--repeat 3]

Each repetition starts cold (template cache cleared) and covers what the ingress does at
start: read every file, parse YAML with positions, check the schema, operations,
arguments, templates and references (``load_folder``), then compile each workflow into
its Celery chain for a sample event (``compile_run``; no broker is contacted). The
workflows mix the language's features: ``if``, ``foreach``, ``on_failure``, ``retry``,
filters, several steps. Target on the 2-core dev machine: 1,000 workflows under 2 s.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from hub.core import Settings
from hub.worker import create_celery
from hub.workflow import compile_run, compile_template, load_folder, new_context, parse_template

TARGET_SECONDS = 2.0

CONTACT = """\
name: contact-{i}
description: Contact {i} from source crm{s} becomes a Plutio person.
trigger:
  webhook: {{ source: crm{s}, event: "contact.*" }}
if: "{{{{ event.data.email and event.data.kind == 'k{i}' }}}}"
priority: interactive
steps:
  - id: existing
    uses: plutio.people.find
    with: {{ query: {{ contactEmails.address: "{{{{ event.data.email | lower }}}}" }}, limit: 1 }}
  - id: person
    if: "{{{{ not steps.existing }}}}"
    uses: plutio.people.create
    retry: {{ max_attempts: {attempts}, backoff_base_seconds: 2 }}
    with:
      name:
        first: "{{{{ event.data.first_name }}}}"
        last: "{{{{ event.data.last_name | title }}}}"
      contactEmails: [ {{ address: "{{{{ event.data.email | lower }}}}", type: work }} ]
      tags: [ "crm{s}", "{{{{ workflow.name }}}}" ]
  - id: done
    uses: core.log
    with:
      message: "contact {{{{ run.event_id }}}} done ({i})"
      fields: {{ created: "{{{{ steps.person is not none }}}}" }}
on_failure:
  - id: report
    uses: core.log
    with:
      level: error
      message: "contact {i} failed at {{{{ error.step }}}}: {{{{ error.message }}}}"
"""

COMPANY = """\
name: company-{i}
trigger:
  webhook: {{ source: erp{s}, event: company.created }}
steps:
  - id: people
    foreach: "{{{{ event.data.contacts[:{limit}] }}}}"
    if: "{{{{ item.email | default('') }}}}"
    uses: plutio.people.upsert
    with:
      match: {{ contactEmails.address: "{{{{ item.email | lower }}}}" }}
      data:
        name: {{ first: "{{{{ item.first_name }}}}", last: "{{{{ item.last_name }}}}" }}
        contactEmails: [ {{ address: "{{{{ item.email | lower }}}}", type: work }} ]
        tags: [ "company-{i}", "{{{{ index }}}}" ]
    on_failure:
      - id: item_failed
        uses: core.log
        with:
          level: warning
          message: "item {{{{ error.index }}}} of company {i}: {{{{ error.message }}}}"
  - id: summary
    uses: core.echo
    with:
      created: "{{{{ steps.people | select | selectattr('created') | list | length }}}}"
      company: "{{{{ event.data.name ~ ' #{i}' }}}}"
"""


def generate(folder: Path, count: int) -> None:
    for i in range(count):
        template = COMPANY if i % 3 == 2 else CONTACT
        text = template.format(i=i, s=i % 11, attempts=2 + i % 4, limit=5 + i % 20)
        (folder / f"wf-{i:05d}.yaml").write_text(text)


def run_once(folder: Path, count: int) -> tuple[float, float, float]:
    """(load + validate, compile, CPU time of both) in seconds, cold."""
    compile_template.cache_clear()
    parse_template.cache_clear()
    app = create_celery(Settings(hub_redis_url="redis://127.0.0.1:1/0"))
    cpu = time.process_time()
    start = time.perf_counter()
    workflows = load_folder(folder)
    loaded = time.perf_counter()
    for wf in workflows:
        ctx = new_context(
            event={"data": {"email": "a@b.c"}},
            event_id="e",
            source="crm",
            event_type="contact.created",
            run_id="r",
        )
        compile_run(app, wf, ctx, event_id="e", run_id="r")
    compiled = time.perf_counter()
    assert len(workflows) == count
    return loaded - start, compiled - loaded, time.process_time() - cpu


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--count", type=int, default=1000)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="hub-bench-") as tmp:
        folder = Path(tmp)
        generate(folder, args.count)
        runs = [run_once(folder, args.count) for _ in range(args.repeat)]
    totals = sorted(load + comp for load, comp, _ in runs)
    best = min(runs, key=lambda run: run[0] + run[1])
    median = statistics.median(totals)
    cpu = statistics.median(run[2] for run in runs)
    per = median / args.count * 1000
    print(f"{args.count} workflows, {args.repeat} cold run(s)")
    print(f"  load + validate: {best[0]:.3f} s   compile: {best[1]:.3f} s   (best run)")
    print(f"  wall: best {totals[0]:.3f} s, median {median:.3f} s ({per:.2f} ms per workflow)")
    print(f"  CPU: median {cpu:.3f} s ({cpu / args.count * 1000:.2f} ms per workflow)")
    target = TARGET_SECONDS * args.count / 1000
    verdict = "met" if median < target else "missed (see CPU time if the machine is busy)"
    print(f"  target {target:g} s for {args.count} workflows: {verdict}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

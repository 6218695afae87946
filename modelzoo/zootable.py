"""The zoo's tables, generated from the registry and `measured.json`: the README's short table
(between its markers) and `docs/model_zoo.md` (the same table, then each result's command,
details, notes and history, and the findings). `python benchmarks/accuracy.py --docs` rewrites
both; a test fails when either is stale."""

from __future__ import annotations

import re
from pathlib import Path

from modelzoo import atomic
from modelzoo.measured import Measurement, findings, measurements
from modelzoo.registry import Target
from modelzoo.weights import shipped_folder
from modelzoo.zoo import describe, list_models

DOCS = "docs/model_zoo.md"
BEGIN = "<!-- zoo table: generated from modelzoo/measured.json by `python benchmarks/accuracy.py --docs` -->"
END = "<!-- end of zoo table -->"
NO_DATA = {
    "cifar10": "not measured: no CIFAR-10 on our machines",
}


def anchor(key: str) -> str:
    return re.sub(r"[^a-z0-9_]+", "-", key.lower()).strip("-")


def verdict(target: Target | None, value: float) -> str:
    """`yes` at or beyond the published anchor, `within tolerance` between the anchor and the
    threshold `modelzoo reproduce` accepts, else `no`."""
    if target is None:
        return "yes"
    if value >= target.value if target.higher_is_better else value <= target.value:
        return "yes"
    return "within tolerance" if target.met_by(value) else "**no**"


def duration(seconds: int | None) -> str:
    if seconds is None:
        return "-"
    return f"{seconds} s" if seconds < 120 else f"{seconds / 60:.0f} min"


def zoo_table(link: str) -> list[str]:
    """One short row per entry: target, measured figure, verdict and time of one run, whether
    its weights ship (`weights="zoo"`), the entry linked to its section of `link` (the docs page)."""
    lines = [
        "| entry | data | parameters | target | measured | met | time | weights |",
        "|---|---|---|---|---|---|---|---|",
    ]
    measured = measurements()
    for name in list_models():
        spec = describe(name)
        m = measured.get(name)
        goal = spec.target
        target = f"{goal.metric} {goal.value:g} ± {goal.tolerance:g}" if goal else "-"
        parameters = f"{m.parameters if m and m.parameters else spec.parameters:,}"
        if m is None:
            figure, met, time = NO_DATA.get(spec.dataset or "", "not measured yet"), "", ""
        else:
            figure, met, time = f"{m.value:.4f}", verdict(spec.target, m.value), duration(m.seconds)
        entry = f"[`{name}`]({link}#{anchor(name)})" if m is not None else f"`{name}`"
        weights = "`zoo`" if shipped_folder(name) else "-"
        lines.append(
            f"| {entry} | {spec.dataset} | {parameters} | {target} | {figure} | {met} | {time} | {weights} |"
        )
    return lines


def section(key: str, m: Measurement) -> list[str]:
    lines = [
        f'<a id="{anchor(key)}"></a>',
        f"### {key}",
        "",
        f"{m.metric} **{m.value:.4f}** on {m.split}, {m.date}, {m.machine}",
        "",
        "```bash",
        m.command,
        "```",
        "",
    ]
    if m.details:
        lines += [m.details, ""]
    if m.notes:
        lines += [f"Notes: {m.notes}", ""]
    for old in m.history:
        lines.append(f"- before: {old['metric']} {old['value']:.4f} ({old['date']}): `{old['command']}`")
    return lines + ([""] if m.history else [])


def model_zoo_page() -> str:
    """The whole of `docs/model_zoo.md`."""
    lines = [
        "# The zoo, measured",
        "",
        "Generated from `modelzoo/measured.json` by `python benchmarks/accuracy.py --docs`. Each figure is",
        "one training run of the entry's recipe on real data (or the mean of the seeds its details list).",
        "`met`: yes at or beyond the published anchor; within tolerance between the anchor and the",
        "threshold `modelzoo reproduce` accepts; no below that. `time`: one run on the machine named.",
        "",
        *zoo_table(""),
        "",
        "## Each result",
        "",
    ]
    measured = measurements()
    names = list_models()
    for key in [*names, *sorted(k for k in measured if k not in names)]:
        if key in measured:
            lines += section(key, measured[key])
    lines += ["## Findings behind the recipes", ""]
    for topic, text in findings().items():
        lines += [f"- **{topic}**: {text}"]
    return "\n".join(lines) + "\n"


def readme_with_table(readme: str) -> str:
    """`readme` with the text between its zoo-table markers regenerated."""
    start, end = readme.index(BEGIN) + len(BEGIN), readme.index(END)
    return readme[:start] + "\n" + "\n".join(zoo_table(DOCS)) + "\n" + readme[end:]


def write(root: Path) -> list[Path]:
    """Rewrite `README.md`'s table and `docs/model_zoo.md` under the checkout `root`."""
    readme, docs = root / "README.md", root / DOCS
    atomic.write_text(readme, readme_with_table(readme.read_text()))
    docs.parent.mkdir(exist_ok=True)
    atomic.write_text(docs, model_zoo_page())
    return [readme, docs]

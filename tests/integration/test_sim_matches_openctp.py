"""The committed ctp_spec and backend.sim.structs still match the installed openctp-ctp binding.

openctp_ctp is never imported in the pytest process (without the zh_CN.GB18030 locale the import
aborts the process): a subprocess probes it with tools/gen_ctp_spec.py and prints JSON. When this
fails after upgrading openctp-ctp, rerun `.venv/bin/python tools/gen_ctp_spec.py`.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from backend.sim import ctp_spec, structs
from lib.ctp_preflight import binding_available
from tools.gen_ctp_spec import probe_behaviour

ROOT = Path(__file__).resolve().parents[2]
FUZZ = 3000
PROBE = f"""
import json
from openctp_ctp import mdapi, tdapi
from tools.gen_ctp_spec import probe_behaviour, probe_binding
behaviour = {{"td": probe_behaviour(vars(tdapi), {FUZZ}), "md": probe_behaviour(vars(mdapi), {FUZZ})}}
print(json.dumps({{"spec": probe_binding(), "behaviour": behaviour}}))
"""


@pytest.fixture(scope="module")
def real() -> dict[str, Any]:
    ok, reason = binding_available("openctp_ctp")
    if not ok:
        pytest.skip(reason)
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")])),
    }
    done = subprocess.run(
        [sys.executable, "-c", PROBE],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=240,
        check=False,
    )
    assert done.returncode == 0, f"probing openctp_ctp failed ({done.returncode}):\n{done.stderr[-3000:]}"
    return json.loads(done.stdout)


def _spec_diffs(label: str, real: dict[str, list[list[Any]]], ours: dict[str, Any]) -> list[str]:
    diffs = [f"{label}: {name} missing in ctp_spec" for name in sorted(real.keys() - ours.keys())]
    diffs += [f"{label}: {name} not in the binding" for name in sorted(ours.keys() - real.keys())]
    for name in sorted(real.keys() & ours.keys()):
        theirs, mine = [tuple(f) for f in real[name]], list(ours[name])
        names = [f[0] for f in theirs], [f[0] for f in mine]
        if names[0] != names[1]:
            diffs.append(f"{label}: {name} fields\n  binding:  {names[0]}\n  ctp_spec: {names[1]}")
            continue
        for t, m in zip(theirs, mine, strict=True):
            if t != m:
                diffs.append(f"{label}: {name}.{t[0]}: binding {t[1:]}, ctp_spec {m[1:]}")
    return diffs


def test_spec_matches_binding(real: dict[str, Any]) -> None:
    spec = real["spec"]
    diffs = _spec_diffs("STRUCTS", spec["structs"], ctp_spec.STRUCTS)
    diffs += _spec_diffs("MD_STRUCTS", spec["md_structs"], ctp_spec.MD_STRUCTS)
    constants = spec["constants"]
    diffs += [f"constant {k}: binding {constants.get(k)!r}, ctp_spec {ctp_spec.CONSTANTS.get(k)!r}"
              for k in sorted(constants.keys() | ctp_spec.CONSTANTS.keys())
              if constants.get(k) != ctp_spec.CONSTANTS.get(k)]  # fmt: skip
    for key, value in [
        ("api_version", ctp_spec.API_VERSION),
        ("char_nul", ctp_spec.CHAR_NUL),
        ("trader_spi_callbacks", list(ctp_spec.TRADER_SPI_CALLBACKS)),
        ("md_spi_callbacks", list(ctp_spec.MD_SPI_CALLBACKS)),
    ]:
        if spec[key] != value:
            diffs.append(f"{key}: binding {spec[key]!r}, ctp_spec {value!r}")
    if diffs:
        pytest.fail("ctp_spec differs from openctp_ctp; rerun tools/gen_ctp_spec.py:\n" + "\n".join(diffs[:50]))


@pytest.mark.parametrize("api", ["td", "md"])
def test_setters_behave_like_binding(real: dict[str, Any], api: str) -> None:
    """Same accepted values, same exception and message, same value read back, per probe."""
    theirs = real["behaviour"][api]
    ours = json.loads(json.dumps(probe_behaviour(structs.struct_classes(api), FUZZ)))
    assert len(ours) == len(theirs)
    diffs = [f"{t[:3]}\n  binding: {t[3:]}\n  sim:     {o[3:]}" for t, o in zip(theirs, ours, strict=True) if t != o]
    if diffs:
        pytest.fail(f"{len(diffs)} of {len(theirs)} probes differ:\n" + "\n".join(diffs[:30]))

"""The charts share their named templates through one library chart, helm/alert-distribution-lib.

Checks: the library is `type: library`; every chart (the service charts, the broker, the
umbrella) depends on it through file://../alert-distribution-lib at the library's version (the
umbrella too: `helm dependency build` does not vendor a file:// subchart's own dependencies, so
the umbrella brings the library when it is built alone, as Argo CD builds it); no chart keeps a
copy of shared helpers (a templates/_common.tpl, a helm/_shared/ source, a template named like one
of the library's). Exits 1 naming each problem.

Usage: check_library.py [HELM_DIR]   (default: helm/ of the repository)
"""

import pathlib
import re
import sys

import yaml

LIBRARY = "alert-distribution-lib"
DEFINE = re.compile(r'define "([^"]+)"')


def main() -> int:
    helm = pathlib.Path(sys.argv[1]) if len(sys.argv) > 1 else pathlib.Path(__file__).resolve().parents[2] / "helm"
    lib_dir = helm / LIBRARY
    lib = yaml.safe_load((lib_dir / "Chart.yaml").read_text())
    errors = []
    if lib.get("type") != "library":
        errors.append(f"{lib_dir}/Chart.yaml: type is {lib.get('type')!r}, not library")
    want = {"name": LIBRARY, "version": lib["version"], "repository": f"file://../{LIBRARY}"}
    shared = {name for tpl in (lib_dir / "templates").glob("*.tpl") for name in DEFINE.findall(tpl.read_text())}
    if not shared:
        errors.append(f"{lib_dir}/templates defines no template")
    charts = sorted(p.parent for p in helm.glob("*/Chart.yaml") if p.parent != lib_dir)
    if not charts:
        errors.append(f"no chart in {helm}")
    for chart in charts:
        deps = yaml.safe_load((chart / "Chart.yaml").read_text()).get("dependencies") or []
        if not any({k: d.get(k) for k in want} == want for d in deps):
            errors.append(f"{chart}/Chart.yaml does not depend on {want}")
        for path in sorted((chart / "templates").glob("*")):
            if path.name == "_common.tpl":
                errors.append(f"{path}: a copy of shared helpers (they live in {lib_dir})")
            for name in DEFINE.findall(path.read_text()):
                if name in shared or name.startswith("adlib."):
                    errors.append(f"{path} defines {name}, a template of the library chart")
    if (helm / "_shared").exists():
        errors.append(f"{helm}/_shared exists (the shared helpers live in {lib_dir})")
    for e in errors:
        print(f"check_library: {e}", file=sys.stderr)
    print(f"check_library: {len(charts)} charts, {LIBRARY} with {len(shared)} templates: {len(errors)} problems")
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main())

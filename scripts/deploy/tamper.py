"""Writes one resource of a rendered manifest with a mistake an operator could make, for the
negative tests of scripts/deploy/validate.sh (scripts/test-deploy.sh): the schemas must refuse it.

Usage: tamper.py RENDERED_YAML KIND misspelt|wrong-type OUTPUT_YAML

  misspelt    the first field under `spec` gets one letter doubled (replicas -> replicass)
  wrong-type  the first number or boolean under `spec` (depth first) becomes a word, or when
              there is none, the first string becomes a number

Prints what it changed; exits 2 when the manifest has no resource of KIND or nothing to change."""

import sys

import yaml


def first_leaf(node, path, want):
    """Depth-first (path, parent, key) of the first scalar for which want(value) holds."""
    items = node.items() if isinstance(node, dict) else enumerate(node) if isinstance(node, list) else []
    for key, value in items:
        if isinstance(value, (dict, list)):
            found = first_leaf(value, f"{path}.{key}", want)
            if found:
                return found
        elif want(value):
            return f"{path}.{key}", node, key
    return None


def main():
    rendered, kind, mode, output = sys.argv[1:]
    with open(rendered) as f:
        docs = [d for d in yaml.safe_load_all(f) if isinstance(d, dict) and d.get("kind") == kind]
    if not docs or not isinstance(docs[0].get("spec"), dict) or not docs[0]["spec"]:
        print(f"tamper: no {kind} with a spec in {rendered}", file=sys.stderr)
        sys.exit(2)
    doc = docs[0]
    spec = doc["spec"]
    if mode == "misspelt":
        key = next(iter(spec))
        wrong = key + key[-1]
        spec[wrong] = spec.pop(key)
        change = f"spec.{key} -> spec.{wrong}"
    elif mode == "wrong-type":
        found = first_leaf(spec, "spec", lambda v: isinstance(v, (bool, int, float)))
        if found:
            path, parent, key = found
            parent[key] = "three" if not isinstance(parent[key], bool) else "yes"
        else:
            found = first_leaf(spec, "spec", lambda v: isinstance(v, str))
            if not found:
                print(f"tamper: nothing to change in {kind}", file=sys.stderr)
                sys.exit(2)
            path, parent, key = found
            parent[key] = 12345
        change = f"{path} = {parent[key]!r}"
    else:
        sys.exit(f"tamper: unknown mode {mode}")
    with open(output, "w") as f:
        yaml.safe_dump(doc, f, sort_keys=False)
    print(f"{kind} {doc['metadata']['name']}: {change}")


if __name__ == "__main__":
    main()

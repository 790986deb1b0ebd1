"""Checks that the idfint environment's Terraform and Helm values name the same buckets and
service accounts, with the Helm values as the one source (Terraform reads them).

Usage: check_buckets.py [--values FILE] [--main-tf FILE]
  (defaults: helm/alert-distribution/values-idfint.yaml, terraform/environments/idfint/main.tf;
  the options read other contents in their place, for the negative tests)

- the Terraform environment yamldecodes the values file (by its path) and passes the
  module the ingester's bucket names and both service accounts from it, not literals;
- in the values, alertdb-server reads exactly the buckets alertdb-ingester writes, both `gs://`
  URLs of valid bucket names (no object prefix: the module creates whole buckets);
- both Workload Identity service accounts belong to the project of the tfvars example.
Prints every failure; exits non-zero when there is any."""

import pathlib
import re
import sys

import yaml

# Module arguments the environment must derive from the values, as Terraform expressions.
DERIVED = {
    "packets_bucket_name": r'trimprefix\(local\.ingester\.alertsUrl, "gs://"\)',
    "schemas_bucket_name": r'trimprefix\(local\.ingester\.schemasUrl, "gs://"\)',
    "writer_account_id": r'split\("@", local\.ingester\.serviceAccount\.gcpServiceAccount\)\[0\]',
    "reader_account_id": r'split\("@", local\.server\.serviceAccount\.gcpServiceAccount\)\[0\]',
    "writer_k8s_service_account": r"local\.ingester\.serviceAccount\.name",
    "reader_k8s_service_account": r"local\.server\.serviceAccount\.name",
}
BUCKET = re.compile(r"^[a-z0-9][a-z0-9_-]{1,61}[a-z0-9]$")


REPO = pathlib.Path(__file__).resolve().parents[2]
ENVIRONMENT = REPO / "terraform" / "environments" / "idfint"
VALUES = REPO / "helm" / "alert-distribution" / "values-idfint.yaml"


def main():
    args = dict(zip(sys.argv[1::2], sys.argv[2::2]))
    values_path = pathlib.Path(args.get("--values", VALUES))
    main_tf_path = pathlib.Path(args.get("--main-tf", ENVIRONMENT / "main.tf"))
    tfvars_path = ENVIRONMENT / "terraform.tfvars.example"
    failures = []
    values = yaml.safe_load(values_path.read_text())
    main_tf = main_tf_path.read_text()
    ingester, server = values["alertdb-ingester"], values["alertdb-server"]

    decoded = re.search(r'yamldecode\(file\("\$\{path\.module\}/([^"]+)"\)\)', main_tf)
    if not decoded:
        failures.append(f"{main_tf_path}: does not yamldecode the Helm values")
    elif (ENVIRONMENT / decoded.group(1)).resolve() != VALUES:
        failures.append(f"{main_tf_path}: reads {decoded.group(1)}, not {VALUES.relative_to(REPO)}")
    if not re.search(r'ingester\s*=\s*local\.helm_values\["alertdb-ingester"\]', main_tf) or \
            not re.search(r'server\s*=\s*local\.helm_values\["alertdb-server"\]', main_tf):
        failures.append(f"{main_tf_path}: local.ingester/local.server are not the charts' values")
    for argument, expression in DERIVED.items():
        if not re.search(rf"^\s*{argument}\s*=\s*{expression}\s*$", main_tf, re.MULTILINE):
            failures.append(f"{main_tf_path}: module argument {argument} is not derived from the values")

    for key in ("alertsUrl", "schemasUrl"):
        url = ingester.get(key, "")
        if server.get(key) != url:
            failures.append(f"{values_path}: alertdb-server.{key} {server.get(key)!r} != alertdb-ingester.{key} {url!r}")
        bucket = url.removeprefix("gs://")
        if not url.startswith("gs://") or not BUCKET.match(bucket):
            failures.append(f"{values_path}: alertdb-ingester.{key} {url!r} is not gs://<bucket name>")
    if ingester.get("alertsUrl") == ingester.get("schemasUrl"):
        failures.append(f"{values_path}: alerts and schemas share a bucket; the module makes two")

    project = re.search(r'^\s*project_id\s*=\s*"([^"]+)"', tfvars_path.read_text(), re.MULTILINE)
    for chart, role in ((ingester, "alertdb-ingester"), (server, "alertdb-server")):
        email = chart.get("serviceAccount", {}).get("gcpServiceAccount", "")
        match = re.match(r"^([a-z][a-z0-9-]{4,28}[a-z0-9])@([a-z0-9-]+)\.iam\.gserviceaccount\.com$", email)
        if not match:
            failures.append(f"{values_path}: {role}.serviceAccount.gcpServiceAccount {email!r} is not a service account email")
        elif project and match.group(2) != project.group(1):
            failures.append(f"{values_path}: {role}'s service account is in {match.group(2)}, the environment's project is {project.group(1)}")

    for failure in failures:
        print(f"FAIL {failure}")
    print(f"buckets: {len(DERIVED) + 6 - len(failures)} checks passed, {len(failures)} failed")
    sys.exit(1 if failures else 0)


if __name__ == "__main__":
    main()

#!/usr/bin/env bash
# Kafka users of the local broker: SCRAM-SHA-512 credentials and ACLs (BRIEF §2).
#
#   users.sh apply --users FILE [--secrets DIR]
#   users.sh remove --username NAME   (deletes the user's ACLs and locks its SCRAM login)
#
# FILE: {"users": [{"username": "alerce", "readonlyTopics": ["alerts-simulated"], "groups": ["alerce"]}],
#        "superusers": ["name", ...]}            (superusers optional; entries may also be {"username": ...})
# A user gets Read, Describe, DescribeConfigs on each readonly topic (literal) and All on the groups
# starting with each prefix; a superuser gets All on every topic, group, transactional id and the
# cluster. apply reconciles: ACLs of a listed user that the file does not grant are removed, so
# the result is exactly the file; users absent from the file are left alone (use remove).
# Passwords: DIR/<username>-password (default .run/kafka/secrets), created (random, mode 600) if
# missing, like the "<username>-password" keys of the deployed secret.
# Talks to the PLAINTEXT listener (ANONYMOUS is a super user there). Every tool call is a JVM start,
# so the ACL state is read once and only missing or extra ACLs cost a call.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"

tool() { "$KAFKA_SCRIPTS/kafka-tool" "$1" --bootstrap-server "$KAFKA_BOOTSTRAP" "${@:2}"; }

# plan USERS_JSON CURRENT_ACLS: compare the wanted ACLs with `acls --list` output and print the
# acls calls to make, one per line, as tab-separated arguments for kafka-tool acls.
plan() {
  python3 - "$@" <<'PY'
import json, re, sys

spec = json.load(open(sys.argv[1]))
listing = open(sys.argv[2]).read()

# ACL = (principal, resource type, name, pattern type, operation, permission, host)
want = set()
def grant(user, rtype, name, pattern, ops):
    for op in ops:
        want.add((f"User:{user}", rtype, name, pattern, op, "ALLOW", "*"))

managed = set()
for u in spec.get("users", []):
    name = u["username"]
    managed.add(f"User:{name}")
    for topic in u.get("readonlyTopics", []):
        grant(name, "TOPIC", topic, "LITERAL", ["READ", "DESCRIBE", "DESCRIBE_CONFIGS"])
    for prefix in u.get("groups", []):
        grant(name, "GROUP", prefix, "PREFIXED", ["ALL"])
for s in spec.get("superusers", []):
    name = s["username"] if isinstance(s, dict) else s
    managed.add(f"User:{name}")
    for rtype, rname in [("TOPIC", "*"), ("GROUP", "*"), ("TRANSACTIONAL_ID", "*"), ("CLUSTER", "kafka-cluster")]:
        grant(name, rtype, rname, "LITERAL", ["ALL"])

have = set()
resource = None
for line in listing.splitlines():
    m = re.search(r"ResourcePattern\(resourceType=(\w+), name=(.*), patternType=(\w+)\)", line)
    if m:
        resource = m.groups()
        continue
    m = re.search(r"\(principal=(.*), host=(.*), operation=(\w+), permissionType=(\w+)\)", line)
    if m and resource:
        principal, host, op, perm = m.groups()
        if principal in managed:
            have.add((principal, *resource, op, perm, host))

def cli_op(op):  # DESCRIBE_CONFIGS -> DescribeConfigs
    return "".join(w.capitalize() for w in op.split("_"))

def resource_args(rtype, name):
    flag = {"TOPIC": "--topic", "GROUP": "--group", "TRANSACTIONAL_ID": "--transactional-id",
            "DELEGATION_TOKEN": "--delegation-token", "USER": "--user-principal"}
    return ["--cluster"] if rtype == "CLUSTER" else [flag[rtype], name]

def calls(action, acls):
    # One call per (principal, permission, host, pattern type, operations): the tool applies
    # every --operation to every resource given, so resources sharing operations share a call.
    ops_by_res = {}
    for p, rtype, rname, pattern, op, perm, host in acls:
        ops_by_res.setdefault((p, perm, host, pattern, rtype, rname), set()).add(op)
    batches = {}
    for (p, perm, host, pattern, rtype, rname), ops in sorted(ops_by_res.items()):
        batches.setdefault((p, perm, host, pattern, tuple(sorted(ops))), []).append((rtype, rname))
    for (p, perm, host, pattern, ops), resources in batches.items():
        kind = "allow" if perm == "ALLOW" else "deny"
        args = [action, f"--{kind}-principal", p, f"--{kind}-host", host, "--resource-pattern-type", pattern.lower()]
        if action == "--remove":
            args.append("--force")
        for op in ops:
            args += ["--operation", cli_op(op)]
        for rtype, rname in resources:
            args += resource_args(rtype, rname)
        print("\t".join(args))

calls("--remove", have - want)
calls("--add", want - have)
PY
}

# usernames USERS_JSON: every user and superuser, one a line; names are checked because they end
# up in file names and command lines.
usernames() {
  python3 -c '
import json, re, sys
spec = json.load(open(sys.argv[1]))
names = [u["username"] for u in spec.get("users", [])]
names += [s["username"] if isinstance(s, dict) else s for s in spec.get("superusers", [])]
for n in names:
    if not re.fullmatch(r"[A-Za-z0-9._-]+", n):
        sys.exit(f"invalid username: {n!r}")
    print(n)
' "$1"
}

# reconcile_acls USERS_JSON: make the ACLs of the users in the file exactly what the file says.
reconcile_acls() {
  local spec=$1 current changes line n=0
  local -a args
  current="$(mktemp)"
  tool acls --list >"$current"
  # Planned into a variable first so that a failing plan stops the script (set -e).
  changes="$(plan "$spec" "$current")"
  rm -f "$current"
  while IFS= read -r line; do
    [[ -n $line ]] || continue
    IFS=$'\t' read -r -a args <<<"$line"
    tool acls "${args[@]}" >/dev/null
    log "acls ${args[*]}"
    n=$((n + 1))
  done <<<"$changes"
  log "ACLs: $n change(s)"
}

apply() {
  local users="" secrets=$KAFKA_SECRETS names name password
  while [[ $# -gt 0 ]]; do
    case $1 in
      --users) users=$2; shift 2 ;;
      --secrets) secrets=$2; shift 2 ;;
      *) die "unknown argument: $1" ;;
    esac
  done
  [[ -f $users ]] || die "usage: users.sh apply --users FILE [--secrets DIR]"
  # shellcheck disable=SC2174  # only a newly created secrets dir is made private
  mkdir -p -m 700 "$secrets"
  # Always (re)set the credential: SCRAM cannot tell whether the stored password matches the file.
  names="$(usernames "$users")"
  for name in $names; do
    password="$(ensure_password "$secrets/$name-password")"
    tool configs --alter --entity-type users --entity-name "$name" \
      --add-config "SCRAM-SHA-512=[iterations=8192,password=$password]" >/dev/null
    log "SCRAM-SHA-512 credential set for $name ($secrets/$name-password)"
  done
  reconcile_acls "$users"
}

remove() {
  [[ ${1:-} == --username && -n ${2:-} ]] || die "usage: users.sh remove --username NAME"
  local name=$2 spec
  # An empty grant list: every ACL of the user is extra, so all are removed.
  spec="$(mktemp)"
  printf '{"users":[{"username":"%s"}]}' "$name" >"$spec"
  usernames "$spec" >/dev/null
  reconcile_acls "$spec"
  rm -f "$spec"
  # Not --delete-config: in Kafka 4.0-4.4 a deleted SCRAM credential in the metadata log can wipe
  # every SCRAM credential at the next restart (see kafka.sh). A random password nobody knows
  # locks the user out just as well; the user stays listed by `configs --describe`.
  tool configs --alter --entity-type users --entity-name "$name" \
    --add-config "SCRAM-SHA-512=[iterations=8192,password=$(random_password)]" >/dev/null
  log "removed user $name: ACLs deleted, SCRAM password replaced by an unknown one (password file kept)"
}

case ${1:-} in
  apply) shift; apply "$@" ;;
  remove) shift; remove "$@" ;;
  *) echo "usage: $0 apply --users FILE [--secrets DIR] | remove --username NAME" >&2; exit 2 ;;
esac

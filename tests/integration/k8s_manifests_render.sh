#!/usr/bin/env bash
# The Kubernetes manifests render, and every setting the deployment depends on
# is in the rendered output: the nightly CronJob (deploy/k8s), the schema
# migration Job (deploy/k8s/migrate) and the auditors' dry-run Job
# (deploy/k8s/auditor). Also: the policy copy under deploy/k8s equals
# policies/, the alert rules say what deploy/README.md promises, and the
# Dockerfile keeps its shape.
#
# Needs kubectl (for `kubectl kustomize`; exit 77 = skipped without it) and
# python3. Nothing talks to a cluster: the rendered YAML is turned into JSON
# with `kubectl annotate --local`, which never contacts an API server.
set -euo pipefail
cd "$(dirname "$0")/../.."

if ! command -v kubectl >/dev/null 2>&1; then
  echo "SKIP: kubectl not installed"
  exit 77
fi
if ! command -v python3 >/dev/null 2>&1; then
  echo "SKIP: python3 not installed"
  exit 77
fi

tmp=$(mktemp -d "${TMPDIR:-/tmp}/k8s-render.XXXXXX")
trap 'rm -rf "$tmp"' EXIT

render() { # render NAME DIR: YAML to $tmp/NAME.yaml, JSON objects to $tmp/NAME.json
  local name=$1 dir=$2
  if ! kubectl kustomize "$dir" >"$tmp/$name.yaml" 2>"$tmp/$name.err"; then
    echo "FAIL - kubectl kustomize $dir"
    cat "$tmp/$name.err"
    echo "0 passed, 1 failed"
    exit 1
  fi
  # Offline YAML -> JSON (the same conversion kubectl apply makes: 0400 -> 256).
  if ! kubectl annotate --local -o json -f "$tmp/$name.yaml" \
        retention.render-check=1 >"$tmp/$name.json" 2>"$tmp/$name.err"; then
    echo "FAIL - converting the rendering of $dir to JSON"
    cat "$tmp/$name.err"
    echo "0 passed, 1 failed"
    exit 1
  fi
}
render base deploy/k8s
render auditor deploy/k8s/auditor
render migrate deploy/k8s/migrate
if ! kubectl annotate --local -o json -f deploy/k8s/alerts.yaml \
      retention.render-check=1 >"$tmp/alerts.json" 2>"$tmp/alerts.err"; then
  echo "FAIL - deploy/k8s/alerts.yaml does not parse"
  cat "$tmp/alerts.err"
  echo "0 passed, 1 failed"
  exit 1
fi

exec python3 - "$tmp" <<'PY'
import json, os, re, subprocess, sys

tmp = sys.argv[1]
passed = failed = 0


def check(name, fn):
    """One assertion: fn() must return True. Any exception is a failure."""
    global passed, failed
    try:
        ok = fn() is True
        why = ""
    except Exception as e:  # a removed setting shows up as KeyError, IndexError, ...
        ok, why = False, " (%s: %s)" % (type(e).__name__, e)
    if ok:
        passed += 1
        print("ok - " + name)
    else:
        failed += 1
        print("FAIL - " + name + why)


def crashed(kind, value, tb):
    """A setting the checks navigate through is gone: still one line and the count."""
    import traceback
    traceback.print_exception(kind, value, tb)
    print("FAIL - rendered manifests lack a structure the checks need (%s: %s)" % (kind.__name__, value))
    print("%d passed, %d failed" % (passed, failed + 1))
    sys.exit(1)


sys.excepthook = crashed


def load(name):
    text = open(os.path.join(tmp, name + ".json")).read()
    dec, objs, i = json.JSONDecoder(), [], 0
    while True:
        while i < len(text) and text[i].isspace():
            i += 1
        if i >= len(text):
            break
        obj, i = dec.raw_decode(text, i)
        objs.extend(obj["items"] if obj.get("kind") == "List" else [obj])
    return objs


def raw(name):
    return open(os.path.join(tmp, name + ".yaml")).read()


def one(objs, kind, name=None):
    found = [o for o in objs if o["kind"] == kind and (name is None or o["metadata"]["name"] == name)]
    if len(found) != 1:
        raise LookupError("%d %s named %s" % (len(found), kind, name))
    return found[0]


def containers(pod, init=True):
    return pod.get("initContainers", []) * init + pod["containers"]


def container(pod, name):
    return [c for c in containers(pod) if c["name"] == name][0]


def volume(pod, name):
    return [v for v in pod["volumes"] if v["name"] == name][0]


def mount_volume(c, path):
    """The volume mounted at the directory that holds path, and the mount."""
    best = None
    for m in c.get("volumeMounts", []):
        mp = m["mountPath"].rstrip("/")
        if path == mp or path.startswith(mp + "/"):
            if best is None or len(mp) > len(best["mountPath"].rstrip("/")):
                best = m
    if best is None:
        raise LookupError("nothing mounted over " + path)
    return best


def arg(c, flag):
    args = c.get("args", [])
    return args[args.index(flag) + 1]


def env(c, name):
    return [e["value"] for e in c.get("env", []) if e["name"] == name][0]


def first_action(job_spec, code, cname):
    """What podFailurePolicy does with exit code `code` of container `cname`."""
    for rule in job_spec["podFailurePolicy"]["rules"]:
        oec = rule.get("onExitCodes")
        if not oec or oec.get("containerName", cname) != cname:
            continue
        inside = code in oec["values"]
        if (oec["operator"] == "In") == inside:
            return rule["action"]
    return "Count"


def hardened(pod, label):
    sc = pod["securityContext"]
    check(label + ": pod runAsNonRoot true", lambda: sc["runAsNonRoot"] is True)
    check(label + ": pod runAsUser 10001", lambda: sc["runAsUser"] == 10001)
    check(label + ": pod runAsGroup 10001", lambda: sc["runAsGroup"] == 10001)
    check(label + ": pod fsGroup 10001", lambda: sc["fsGroup"] == 10001)
    check(label + ": pod seccompProfile RuntimeDefault", lambda: sc["seccompProfile"]["type"] == "RuntimeDefault")
    check(label + ": restartPolicy Never", lambda: pod["restartPolicy"] == "Never")
    check(label + ": terminationGracePeriodSeconds 120", lambda: pod["terminationGracePeriodSeconds"] == 120)
    check(label + ": no service account token mounted", lambda: pod["automountServiceAccountToken"] is False)
    check(label + ": serviceAccountName retention", lambda: pod["serviceAccountName"] == "retention")
    check(label + ": enableServiceLinks false", lambda: pod["enableServiceLinks"] is False)
    check(label + ": every emptyDir has a sizeLimit",
          lambda: all(v["emptyDir"]["sizeLimit"] for v in pod["volumes"] if "emptyDir" in v))
    check(label + ": Secret and ConfigMap volumes are mounted read-only everywhere",
          lambda: all(m.get("readOnly") is True for c in containers(pod) for m in c.get("volumeMounts", [])
                      if "secret" in volume(pod, m["name"]) or "configMap" in volume(pod, m["name"])))
    check(label + ": no hostPath/hostNetwork/hostPID",
          lambda: not any("hostPath" in v for v in pod.get("volumes", []))
          and not pod.get("hostNetwork") and not pod.get("hostPID"))
    for c in containers(pod):
        n = "%s: container %s" % (label, c["name"])
        csc = c.get("securityContext", {})
        check(n + " readOnlyRootFilesystem true", lambda csc=csc: csc["readOnlyRootFilesystem"] is True)
        check(n + " allowPrivilegeEscalation false", lambda csc=csc: csc["allowPrivilegeEscalation"] is False)
        check(n + " capabilities drop ALL", lambda csc=csc: "ALL" in csc["capabilities"]["drop"])
        check(n + " not privileged", lambda csc=csc: csc.get("privileged", False) is False)
        check(n + " memory request and limit", lambda c=c: bool(c["resources"]["requests"]["memory"])
              and bool(c["resources"]["limits"]["memory"]))
        check(n + " cpu request and limit", lambda c=c: bool(c["resources"]["requests"]["cpu"])
              and bool(c["resources"]["limits"]["cpu"]))
        check(n + " imagePullPolicy IfNotPresent", lambda c=c: c["imagePullPolicy"] == "IfNotPresent")
        check(n + " image is the retention image with a tag",
              lambda c=c: re.fullmatch(r"(.+/)?retention(:[\w.-]+|@sha256:[0-9a-f]{64})", c["image"]) is not None
              and not c["image"].endswith(":latest"))
        check(n + " no password in args, command or env",
              lambda c=c: not re.search(r"password|PGPASSWORD", json.dumps([c.get("args"), c.get("command"), c.get("env")]), re.I))
    # The fsGroup + Secret volume problem: secret files are 0440 under fsGroup,
    # which libpq and retention refuse; an init container copies them to 0600.
    if any("persistentVolumeClaim" in v for v in pod["volumes"]):
        check(label + ": fsGroupChangePolicy OnRootMismatch (no recursive chown of the volumes)",
              lambda: pod["securityContext"]["fsGroupChangePolicy"] == "OnRootMismatch")
    for c in containers(pod, init=False):
        check("%s: container %s logs JSON lines (RETENTION_LOG_FORMAT=json)" % (label, c["name"]),
              lambda c=c: env(c, "RETENTION_LOG_FORMAT") == "json")
        check("%s: container %s has HOME=/tmp on an emptyDir" % (label, c["name"]),
              lambda c=c: env(c, "HOME") == "/tmp" and "emptyDir" in volume(pod, mount_volume(c, "/tmp")["name"]))
    stage = container(pod, "stage-secrets")
    cmd = stage["command"]
    check(label + ": stage-secrets is an init container",
          lambda: stage in pod.get("initContainers", []))
    check(label + ": stage-secrets copies with install -m 0600",
          lambda: cmd[0] == "/usr/bin/install" and cmd[1:3] == ["-m", "0600"])
    dest = cmd[-1].rstrip("/")
    check(label + ": staged secrets land on a memory emptyDir",
          lambda: volume(pod, mount_volume(stage, dest)["name"])["emptyDir"]["medium"] == "Memory")
    return stage, dest


API = {"CronJob": "batch/v1", "Job": "batch/v1", "PersistentVolumeClaim": "v1", "ConfigMap": "v1",
       "ServiceAccount": "v1"}


def objects(objs, label):
    check(label + ": every object in namespace retention",
          lambda: all(o["metadata"].get("namespace") == "retention" for o in objs))
    check(label + ": every object has its apiVersion",
          lambda: all(o["apiVersion"] == API[o["kind"]] for o in objs))
    check(label + ": every object labelled app.kubernetes.io/name=retention, part-of=retention",
          lambda: all(o["metadata"]["labels"]["app.kubernetes.io/name"] == "retention"
                      and o["metadata"]["labels"]["app.kubernetes.io/part-of"] == "retention" for o in objs))
    check(label + ": every Job and pod template labelled with its component",
          lambda: all(bool(t["metadata"]["labels"]["app.kubernetes.io/component"])
                      and t["metadata"]["labels"]["app.kubernetes.io/name"] == "retention"
                      for o in objs if o["kind"] in ("Job", "CronJob")
                      for t in ([o, o["spec"]["template"]] if o["kind"] == "Job"
                                else [o, o["spec"]["jobTemplate"], o["spec"]["jobTemplate"]["spec"]["template"]])))
    check(label + ": ServiceAccount retention mounts no token",
          lambda: one(objs, "ServiceAccount", "retention")["automountServiceAccountToken"] is False)


def pvc_ok(objs, label, name, size):
    check("%s: PVC %s ReadWriteOnce, %s" % (label, name, size),
          lambda: one(objs, "PersistentVolumeClaim", name)["spec"]["accessModes"] == ["ReadWriteOnce"]
          and one(objs, "PersistentVolumeClaim", name)["spec"]["resources"]["requests"]["storage"] == size)


def secret_volume(pod, c, path):
    """The Secret volume a staged file was copied from."""
    stage = container(pod, "stage-secrets")
    base = os.path.basename(path)
    src = [s for s in stage["command"][3:-1] if os.path.basename(s) == base][0]
    sec = volume(pod, mount_volume(stage, src)["name"])["secret"]
    # The Secret's key is named after the file (deploy/README.md creates it so).
    if [(i["key"], i["path"]) for i in sec["items"]] != [(base, base)]:
        raise ValueError("Secret %s items are not [%s]" % (sec["secretName"], base))
    return sec


def job_policy(js, label, names):
    for code in (2, 3):
        check("%s: podFailurePolicy exit %d -> FailJob" % (label, code),
              lambda code=code: all(first_action(js, code, n) == "FailJob" for n in names))
    check(label + ": podFailurePolicy exit code lists valid (ordered, unique, no 0 with In)",
          lambda: all(r["onExitCodes"]["values"] == sorted(set(r["onExitCodes"]["values"]))
                      and not (r["onExitCodes"]["operator"] == "In" and 0 in r["onExitCodes"]["values"])
                      for r in js["podFailurePolicy"]["rules"] if "onExitCodes" in r))
    check(label + ": podFailurePolicy ignores disruptions (DisruptionTarget)",
          lambda: any(r["action"] == "Ignore" and any(c["type"] == "DisruptionTarget" for c in r["onPodConditions"])
                      for r in js["podFailurePolicy"]["rules"] if "onPodConditions" in r))


def db_client(pod, c, label, secret, cms):
    """A container that connects: libpq settings, staged 0600 passfile, CA."""
    n = "%s: container %s" % (label, c["name"])
    dbenv = [e["configMapRef"]["name"] for e in c["envFrom"] if "configMapRef" in e][0]
    check(n + " takes libpq settings from ConfigMap retention-db-env (PGHOST PGPORT PGDATABASE PGUSER PGSSLMODE)",
          lambda: dbenv.startswith("retention-db-env-")
          and all(k in cms[dbenv]["data"] for k in ("PGHOST", "PGPORT", "PGDATABASE", "PGUSER", "PGSSLMODE")))
    passfile = env(c, "PGPASSFILE")
    stage = container(pod, "stage-secrets")
    check(n + " PGPASSFILE is the staged 0600 copy, mounted read-only",
          lambda: mount_volume(c, passfile)["name"] == mount_volume(stage, stage["command"][-1])["name"]
          and mount_volume(c, passfile)["readOnly"] is True)
    check(n + " passfile from Secret %s, defaultMode 0400" % secret,
          lambda: secret_volume(pod, c, passfile)["secretName"] == secret
          and secret_volume(pod, c, passfile)["defaultMode"] == 0o400)
    check(n + " PGSSLROOTCERT is the mounted ConfigMap retention-db-ca",
          lambda: volume(pod, mount_volume(c, cms[dbenv]["data"]["PGSSLROOTCERT"])["name"])["configMap"]["name"]
          == "retention-db-ca")
    return dbenv


def pvc_mount(pod, c, path):
    m = mount_volume(c, path)
    return m, volume(pod, m["name"])["persistentVolumeClaim"]


policy_text = open("policies/dsp-number-pattern-pilot.json").read()
copy_path = "deploy/k8s/common/policy/dsp-number-pattern-pilot.json"

# ---------------------------------------------------------------- shared
check("policy copy under deploy/k8s equals policies/dsp-number-pattern-pilot.json "
      "(refresh: cp policies/dsp-number-pattern-pilot.json deploy/k8s/common/policy/)",
      lambda: not os.path.islink(copy_path) and open(copy_path).read() == policy_text)

# ---------------------------------------------------------------- base
base = load("base")
check("base: renders a CronJob, 3 PVCs, 2 ConfigMaps, 1 ServiceAccount",
      lambda: sorted(o["kind"] for o in base) == sorted(
          ["CronJob", "PersistentVolumeClaim", "PersistentVolumeClaim", "PersistentVolumeClaim",
           "ConfigMap", "ConfigMap", "ServiceAccount"]))
check("base: generates no Secret (secrets are referenced by name only)",
      lambda: not any(o["kind"] == "Secret" for o in base))
check("base: no PrometheusRule (alerts.yaml stays out of the kustomization)",
      lambda: not any(o["kind"] == "PrometheusRule" for o in base))
check("base: no Job (migration is its own kustomization)", lambda: not any(o["kind"] == "Job" for o in base))
check("base: no PGPASSWORD anywhere", lambda: "PGPASSWORD" not in raw("base"))
objects(base, "base")
pvc_ok(base, "base", "retention-archive", "20Gi")
pvc_ok(base, "base", "retention-reports", "1Gi")
pvc_ok(base, "base", "retention-metrics", "64Mi")

cj = one(base, "CronJob", "retention")
s = cj["spec"]
check("cronjob: schedule nightly \"17 2 * * *\"", lambda: s["schedule"] == "17 2 * * *")
check("cronjob: timeZone Etc/UTC", lambda: s["timeZone"] == "Etc/UTC")
check("cronjob: concurrencyPolicy Forbid", lambda: s["concurrencyPolicy"] == "Forbid")
check("cronjob: startingDeadlineSeconds set", lambda: 0 < s["startingDeadlineSeconds"] <= 6 * 3600)
check("cronjob: successfulJobsHistoryLimit set", lambda: s["successfulJobsHistoryLimit"] >= 1)
check("cronjob: failedJobsHistoryLimit set", lambda: s["failedJobsHistoryLimit"] >= 1)
check("cronjob: not suspended", lambda: s.get("suspend", False) is False)
js = s["jobTemplate"]["spec"]
check("cronjob: backoffLimit 2", lambda: js["backoffLimit"] == 2)
check("cronjob: activeDeadlineSeconds set", lambda: 0 < js["activeDeadlineSeconds"] < 24 * 3600)
check("cronjob: ttlSecondsAfterFinished set", lambda: js["ttlSecondsAfterFinished"] > 0)
job_policy(js, "cronjob", ["retention"])
for code in (1, 75):
    check("cronjob: podFailurePolicy exit %d -> Count (retried)" % code,
          lambda code=code: first_action(js, code, "retention") == "Count")
pod = js["template"]["spec"]
hardened(pod, "cronjob")
main = container(pod, "retention")
check("cronjob: container retention is the only main container", lambda: len(pod["containers"]) == 1)
check("cronjob: memory limit 128Mi", lambda: main["resources"]["limits"]["memory"] == "128Mi")
check("cronjob: command is `run`, not a dry run",
      lambda: main["args"][0] == "run" and "--dry-run" not in main["args"] and "--as-of" not in main["args"])
check("cronjob: no command override (the image ENTRYPOINT is retention)", lambda: "command" not in main)
pol = arg(main, "--policy")
check("cronjob: --policy is the policy ConfigMap's file",
      lambda: volume(pod, mount_volume(main, pol)["name"])["configMap"]["name"].startswith("retention-policy-")
      and os.path.basename(pol) == "dsp-number-pattern-pilot.json")
cms = {o["metadata"]["name"]: o for o in base if o["kind"] == "ConfigMap"}
check("cronjob: policy ConfigMap holds exactly policies/dsp-number-pattern-pilot.json",
      lambda: cms[volume(pod, mount_volume(main, pol)["name"])["configMap"]["name"]]["data"][os.path.basename(pol)]
      == policy_text)
key = arg(main, "--signing-key")
check("cronjob: --signing-key is a staged (0600) copy",
      lambda: mount_volume(main, key)["name"] == mount_volume(container(pod, "stage-secrets"),
                                                             container(pod, "stage-secrets")["command"][-1])["name"]
      and os.path.basename(key) in [os.path.basename(p) for p in container(pod, "stage-secrets")["command"][3:-1]])
check("cronjob: signing key comes from Secret retention-signing-key, defaultMode 0400",
      lambda: secret_volume(pod, main, key)["secretName"] == "retention-signing-key"
      and secret_volume(pod, main, key)["defaultMode"] == 0o400)
check("cronjob: staged secrets mounted read-only in the main container",
      lambda: mount_volume(main, key)["readOnly"] is True)
for flag, claim in (("--report-dir", "retention-reports"), ("--archive-dir", "retention-archive"),
                    ("--metrics-file", "retention-metrics")):
    check("cronjob: %s on PVC %s, writable" % (flag, claim),
          lambda flag=flag, claim=claim: pvc_mount(pod, main, arg(main, flag))[1]["claimName"] == claim
          and not pvc_mount(pod, main, arg(main, flag))[0].get("readOnly", False))
    check("base: PVC %s exists" % claim, lambda claim=claim: one(base, "PersistentVolumeClaim", claim) is not None)
dbenv = db_client(pod, main, "cronjob", "retention-db", cms)
check("cronjob: PGSSLMODE verify-full, PGCONNECT_TIMEOUT and PGAPPNAME set",
      lambda: cms[dbenv]["data"]["PGSSLMODE"] == "verify-full" and int(cms[dbenv]["data"]["PGCONNECT_TIMEOUT"]) > 0
      and cms[dbenv]["data"]["PGAPPNAME"] == "retention")
check("cronjob: ephemeral-storage request and limit",
      lambda: bool(main["resources"]["requests"]["ephemeral-storage"])
      and bool(main["resources"]["limits"]["ephemeral-storage"]))

# ---------------------------------------------------------------- migrate
mig = load("migrate")
check("migrate: renders a Job, no CronJob, no Secret",
      lambda: one(mig, "Job", "retention-migrate") is not None
      and not any(o["kind"] in ("CronJob", "Secret") for o in mig))
objects(mig, "migrate")
mjs = one(mig, "Job", "retention-migrate")["spec"]
mpod = mjs["template"]["spec"]
hardened(mpod, "migrate")
mc = container(mpod, "migrate")
check("migrate: runs `db migrate`", lambda: mc["args"] == ["db", "migrate"])
check("migrate: backoffLimit small", lambda: 0 <= mjs["backoffLimit"] <= 2)
check("migrate: activeDeadlineSeconds and ttlSecondsAfterFinished set",
      lambda: mjs["activeDeadlineSeconds"] > 0 and mjs["ttlSecondsAfterFinished"] > 0)
job_policy(mjs, "migrate", ["migrate"])
db_client(mpod, mc, "migrate", "retention-db", {o["metadata"]["name"]: o for o in mig if o["kind"] == "ConfigMap"})
check("migrate: no signing key mounted",
      lambda: not any(v.get("secret", {}).get("secretName") == "retention-signing-key" for v in mpod["volumes"]))

# ---------------------------------------------------------------- auditor
aud = load("auditor")
check("auditor: renders a Job and no CronJob",
      lambda: one(aud, "Job", "retention-audit") is not None and not any(o["kind"] == "CronJob" for o in aud))
check("auditor: generates no Secret", lambda: not any(o["kind"] == "Secret" for o in aud))
objects(aud, "auditor")
pvc_ok(aud, "auditor", "retention-audit-reports", "1Gi")
ajs = one(aud, "Job", "retention-audit")["spec"]
apod = ajs["template"]["spec"]
hardened(apod, "auditor")
dry = container(apod, "dry-run")
ver = container(apod, "verify-chain")
check("auditor: dry-run runs `run --dry-run`", lambda: dry["args"][0] == "run" and "--dry-run" in dry["args"])
check("auditor: dry run has no --signing-key", lambda: "--signing-key" not in dry["args"])
check("auditor: dry run uses the same policy ConfigMap",
      lambda: volume(apod, mount_volume(dry, arg(dry, "--policy"))["name"])["configMap"]["name"].startswith("retention-policy-"))
aud_cms = {o["metadata"]["name"]: o for o in aud if o["kind"] == "ConfigMap"}
aud_dbenv = [e["configMapRef"]["name"] for e in dry["envFrom"] if "configMapRef" in e][0]
db_client(apod, dry, "auditor", "retention-db-readonly", aud_cms)
check("auditor: PGUSER is the read-only role, not the operators'",
      lambda: env(dry, "PGUSER") != aud_cms[aud_dbenv]["data"]["PGUSER"])
check("auditor: PGAPPNAME tells the auditors' sessions apart",
      lambda: env(dry, "PGAPPNAME") != aud_cms[aud_dbenv]["data"]["PGAPPNAME"])
check("auditor: mounts only Secrets retention-db-readonly and retention-signing-pubkeys",
      lambda: sorted(v["secret"]["secretName"] for v in apod["volumes"] if "secret" in v)
      == ["retention-db-readonly", "retention-signing-pubkeys"])
check("auditor: never references the operators' private key or credentials",
      lambda: "retention-signing-key" not in raw("auditor")
      and not re.search(r"secretName: retention-db\s*$", raw("auditor"), re.M))
check("auditor: dry-run report on the auditors' own PVC",
      lambda: pvc_mount(apod, dry, arg(dry, "--report-dir"))[1]["claimName"] == "retention-audit-reports"
      and one(aud, "PersistentVolumeClaim", "retention-audit-reports") is not None)
check("auditor: operators' archive mounted read-only for the dry run",
      lambda: pvc_mount(apod, dry, arg(dry, "--archive-dir"))[1]["claimName"] == "retention-archive"
      and pvc_mount(apod, dry, arg(dry, "--archive-dir"))[0]["readOnly"] is True)
script = " ".join(ver.get("command", []) + ver.get("args", []))
check("auditor: verify-chain runs `retention verify --chain` over the operators' reports with --public-key",
      lambda: re.search(r"retention verify\b", script) is not None and "--chain /var/lib/retention/reports" in script
      and "--public-key" in script)
check("auditor: verify-chain reads public keys from Secret retention-signing-pubkeys",
      lambda: volume(apod, mount_volume(ver, "/etc/retention/pubkeys/x.pub.pem")["name"])["secret"]["secretName"]
      == "retention-signing-pubkeys" and "/etc/retention/pubkeys/*.pub.pem" in script)
check("auditor: operators' reports mounted read-only",
      lambda: pvc_mount(apod, ver, "/var/lib/retention/reports/x")[1]["claimName"] == "retention-reports"
      and pvc_mount(apod, ver, "/var/lib/retention/reports/x")[0]["readOnly"] is True)
check("auditor: operators' PVCs are readOnly claims in the pod",
      lambda: all(v["persistentVolumeClaim"]["readOnly"] is True for v in apod["volumes"]
                  if v.get("persistentVolumeClaim", {}).get("claimName") in ("retention-reports", "retention-archive")))
check("auditor: does not create the operators' PVCs",
      lambda: not any(o["kind"] == "PersistentVolumeClaim" and o["metadata"]["name"] in ("retention-reports", "retention-archive")
                      for o in aud))
job_policy(ajs, "auditor", ["dry-run", "verify-chain"])
check("auditor: every mount of the operators' PVCs is read-only",
      lambda: all(m.get("readOnly") is True for c in containers(apod) for m in c.get("volumeMounts", [])
                  if volume(apod, m["name"]).get("persistentVolumeClaim", {}).get("claimName")
                  in ("retention-reports", "retention-archive")))
check("auditor: verify-chain is `/bin/sh -c SCRIPT`", lambda: ver["command"][:2] == ["/bin/sh", "-c"])


def run_verify_script(keys):
    """Run the verify-chain script with a stub retention; return (status, argv)."""
    d = os.path.join(tmp, "verify-%d" % len(keys))
    os.makedirs(os.path.join(d, "pubkeys"))
    for k in keys:
        open(os.path.join(d, "pubkeys", k), "w").close()
    open(os.path.join(d, "pubkeys", "README"), "w").close()  # not a *.pub.pem: ignored
    stub = os.path.join(d, "retention")
    with open(stub, "w") as f:
        f.write('#!/bin/sh\nfor a in "$@"; do printf "%s\\n" "$a"; done\n')
    os.chmod(stub, 0o755)
    text = ver["command"][2].replace("/etc/retention/pubkeys", os.path.join(d, "pubkeys"))
    text = text.replace("/opt/retention/bin/retention", stub)
    p = subprocess.run(["sh", "-c", text], capture_output=True, text=True, timeout=30)
    return p.returncode, p.stdout.splitlines()


check("auditor: verify-chain passes one --public-key per *.pub.pem to `retention verify --chain`",
      lambda: run_verify_script(["op-2025.pub.pem", "op-2026.pub.pem"]) ==
      (0, ["verify", "--chain", "/var/lib/retention/reports",
           "--public-key", os.path.join(tmp, "verify-2", "pubkeys", "op-2025.pub.pem"),
           "--public-key", os.path.join(tmp, "verify-2", "pubkeys", "op-2026.pub.pem")]))
check("auditor: verify-chain exits 2 (FailJob) when the Secret holds no *.pub.pem",
      lambda: run_verify_script([])[0] == 2)
check("auditor: backoffLimit small", lambda: 0 <= ajs["backoffLimit"] <= 2)
check("auditor: activeDeadlineSeconds and ttlSecondsAfterFinished set",
      lambda: ajs["activeDeadlineSeconds"] > 0 and ajs["ttlSecondsAfterFinished"] > 0)

# ---------------------------------------------------------------- alerts, kustomization, Dockerfile
kust = open("deploy/k8s/kustomization.yaml").read()
rule = one(load("alerts"), "PrometheusRule", "retention")
check("alerts.yaml: a PrometheusRule monitoring.coreos.com/v1, labelled",
      lambda: rule["apiVersion"] == "monitoring.coreos.com/v1"
      and rule["metadata"]["labels"]["app.kubernetes.io/name"] == "retention")
alert = {r["alert"]: r for g in rule["spec"]["groups"] for r in g["rules"]}
norm = lambda e: re.sub(r"\s+", " ", e).strip()
for name, expr, sev in (
        ("RetentionNoRecentSuccess",
         "time() - max by (policy) (retention_last_success_timestamp_seconds{mode=\"execute\"}) > 26 * 3600",
         "critical"),
        ("RetentionRunFailed", "max by (policy) (retention_run_exit_status{mode=\"execute\"}) != 0",
         "warning"),
        ("RetentionMetricsMissing", "absent(retention_last_success_timestamp_seconds{mode=\"execute\"})",
         "warning"),
        ("RetentionCronJobNoRecentSuccess",
         'time() - max(kube_cronjob_status_last_successful_time{namespace="retention", cronjob="retention"}) > 26 * 3600',
         "critical")):
    check("alerts.yaml: %s: %s" % (name, expr),
          lambda name=name, expr=expr, sev=sev: norm(alert[name]["expr"]) == expr
          and alert[name]["labels"]["severity"] == sev and bool(alert[name]["annotations"]["summary"])
          and "for" in alert[name])
check("alerts.yaml: RetentionMetricsMissing waits 26h", lambda: alert["RetentionMetricsMissing"]["for"] == "26h")
check("kustomization: alerts.yaml not listed as a resource",
      lambda: not re.search(r"^\s*-\s*alerts\.yaml\s*$", kust, re.M))
docker = open("deploy/Dockerfile").read()
check("Dockerfile: build stage debian:bookworm", lambda: re.search(r"^FROM debian:bookworm AS build$", docker, re.M) is not None)
check("Dockerfile: runtime stage debian:bookworm-slim",
      lambda: re.search(r"^FROM debian:bookworm-slim AS runtime$", docker, re.M) is not None)
check("Dockerfile: installs with --no-install-recommends and removes apt lists",
      lambda: docker.count("--no-install-recommends") == 2 and docker.count("rm -rf /var/lib/apt/lists/*") == 2)
check("Dockerfile: production build without fault points or tests",
      lambda: "-DRETENTION_FAULTS=OFF" in docker and "-DBUILD_TESTING=OFF" in docker
      and "-DCMAKE_BUILD_TYPE=Release" in docker and "-DCMAKE_INSTALL_PREFIX=/opt/retention" in docker)
build, runtime = docker.split("AS runtime", 1)
check("Dockerfile: build stage installs the build dependencies",
      lambda: all(re.search(r"\b%s\b" % re.escape(p), build.split("apt-get install", 1)[1].split("&&", 1)[0])
                  for p in ("build-essential", "cmake", "pkg-config", "libpq-dev", "libcjson-dev", "uuid-dev",
                            "zlib1g-dev", "libssl-dev")))
check("Dockerfile: apt-get update before each install, non-interactive",
      lambda: docker.count("RUN apt-get update") == 2 and docker.count("ENV DEBIAN_FRONTEND=noninteractive") == 2)
check("Dockerfile: copies the sources, builds and installs with cmake",
      lambda: re.search(r"^COPY \. \.$", build, re.M) is not None
      and re.search(r"^RUN cmake -S \. -B /build \\$", build, re.M) is not None and "cmake --build /build" in build
      and "cmake --install /build" in build and re.search(r"^WORKDIR /src$", build, re.M) is not None)
check("Dockerfile: the build stage runs the binary once",
      lambda: "&& /opt/retention/bin/retention --version" in build)
check("Dockerfile: user and group 10001 created, no home directory",
      lambda: "groupadd --system --gid 10001 retention" in runtime
      and re.search(r"useradd --system --uid 10001 --gid 10001 --no-create-home\s*\\\s*--home-dir /nonexistent", runtime) is not None)
check("Dockerfile: runtime copies only /opt/retention from the build stage",
      lambda: re.findall(r"^COPY .*$", runtime, re.M) == ["COPY --from=build /opt/retention /opt/retention"])
check("Dockerfile: runtime checks every shared library resolves",
      lambda: "if ldd /opt/retention/bin/retention | grep 'not found'; then exit 1; fi \\\n"
      " && /opt/retention/bin/retention --version" in runtime)
check("Dockerfile: HOME=/tmp, PATH has /opt/retention/bin, WORKDIR /tmp",
      lambda: re.search(r"^ENV HOME=/tmp \\\n\s+PATH=/opt/retention/bin:", runtime, re.M) is not None
      and re.search(r"^WORKDIR /tmp$", runtime, re.M) is not None)
check("Dockerfile: mount points exist in the image",
      lambda: re.search(r"mkdir -p /etc/retention /var/lib/retention/archive /var/lib/retention/reports \\\n"
                        r"\s+/var/lib/retention/metrics /run/retention$", runtime, re.M) is not None)
check("Dockerfile: STOPSIGNAL SIGTERM, CMD --help",
      lambda: re.search(r"^STOPSIGNAL SIGTERM$", runtime, re.M) is not None
      and re.search(r'^CMD \["--help"\]$', runtime, re.M) is not None)
check("Dockerfile: runtime installs only the runtime libraries",
      lambda: re.search(r"apt-get install -y --no-install-recommends \\\s*libpq5 libcjson1 libuuid1 zlib1g libssl3 \\", runtime) is not None
      and "-dev" not in runtime)
check("Dockerfile: numeric non-root USER 10001", lambda: re.search(r"^USER 10001(:10001)?$", runtime, re.M) is not None)
check("Dockerfile: ENTRYPOINT is the retention binary (exec form)",
      lambda: re.search(r'^ENTRYPOINT \["/opt/retention/bin/retention"\]$', runtime, re.M) is not None)
check("Dockerfile.dockerignore: allow-list keeps the context to the sources",
      lambda: open("deploy/Dockerfile.dockerignore").read().splitlines().count("*") == 1)

print("%d passed, %d failed" % (passed, failed))
sys.exit(1 if failed else 0)
PY

#!/usr/bin/env python3
"""Generates crds/*.yaml (the portico.dev/v1alpha1 CustomResourceDefinitions) from the one
description below, so schemas, printer columns and names stay consistent. Run:
    python3 hack/gen-crds.py
The output is committed; a test checks it is current."""
import json, os, sys

GROUP = "portico.dev"
VERSION = "v1alpha1"

def s(desc=None, **kw):
    d = {"type": "string"}
    if desc: d["description"] = desc
    d.update(kw); return d

def i(desc=None, **kw):
    d = {"type": "integer", "format": "int64"}
    if desc: d["description"] = desc
    d.update(kw); return d

def b(desc=None, **kw):
    d = {"type": "boolean"}
    if desc: d["description"] = desc
    d.update(kw); return d

def obj(props, required=None, desc=None, **kw):
    d = {"type": "object", "properties": props}
    if required: d["required"] = required
    if desc: d["description"] = desc
    d.update(kw); return d

def arr(items, desc=None, **kw):
    d = {"type": "array", "items": items}
    if desc: d["description"] = desc
    d.update(kw); return d

def free(desc=None):
    d = {"type": "object", "x-kubernetes-preserve-unknown-fields": True}
    if desc: d["description"] = desc
    return d

NAME_REF = lambda what: obj({"name": s(f"Name of the {what} in the same namespace.", minLength=1, maxLength=253)},
                            required=["name"], desc=f"Reference to a {what} by name.")
SECRET_REF = obj({"name": s("Name of a Secret in the same namespace.", minLength=1, maxLength=253)},
                 required=["name"], desc="Credentials: a Secret of type kubernetes.io/basic-auth, one with a bearer token, or kubernetes.io/ssh-auth; an optional ca.crt key.")

CONDITION = obj({
    "type": s("Type of condition in CamelCase.", maxLength=316, pattern=r"^([a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*/)?(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])$"),
    "status": s("True, False or Unknown.", enum=["True", "False", "Unknown"]),
    "observedGeneration": i("The .metadata.generation the condition was set from.", minimum=0),
    "lastTransitionTime": s("Last time the condition's status changed.", format="date-time"),
    "reason": s("A CamelCase reason a program can match.", maxLength=1024, minLength=1, pattern=r"^[A-Za-z]([A-Za-z0-9_,:]*[A-Za-z0-9_])?$"),
    "message": s("A human readable message.", maxLength=32768),
}, required=["type", "status", "lastTransitionTime", "reason", "message"], desc="metav1.Condition")

CONDITIONS = arr(CONDITION, "Conditions, one per type (metav1.Condition semantics).",
                 **{"x-kubernetes-list-type": "map", "x-kubernetes-list-map-keys": ["type"]})

GIT_SOURCE = obj({
    "repo": s("Repository URL: https, http, ssh, git or file.", minLength=1),
    "ref": s("Branch, tag or commit to read."),
    "directory": s("Directory of the package inside the repository."),
    "secretRef": SECRET_REF,
}, required=["repo"], desc="A Git location outside the registered repositories.")

KPT_FUNCTION = obj({
    "image": s("Function image reference, e.g. gcr.io/kpt-fn/set-namespace:v0.4.1."),
    "exec": s("Path of an executable function (allowed directories only)."),
    "name": s("Optional name of this pipeline step."),
    "configPath": s("Path of a function config file inside the package."),
    "configMap": {"type": "object", "additionalProperties": {"type": "string"}, "description": "Inline key/value function config."},
    "config": free("An inline function config object."),
    "selectors": arr(free(), "Resources the function applies to."),
    "exclude": arr(free(), "Resources the function skips."),
}, desc="A KRM function, as in a Kptfile pipeline.")

PACKAGE_PATH = r"^[a-z0-9]([-a-z0-9_.]*[a-z0-9])?(/[a-z0-9]([-a-z0-9_.]*[a-z0-9])?)*$"
WORKSPACE = r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$"

TASK = obj({
    "type": s("Task type.", enum=["init", "clone", "edit", "upgrade", "patch", "eval"]),
    "init": obj({"description": s(), "keywords": arr(s()), "site": s()}, desc="Source: a new package, as kpt pkg init."),
    "clone": obj({
        "upstreamRef": NAME_REF("PackageRevision"),
        "git": GIT_SOURCE,
        "strategy": s("Merge strategy recorded for later updates.", enum=["resource-merge", "fast-forward", "force-delete-replace", "copy-merge"]),
    }, desc="Source: a copy of an upstream package, with upstream and upstreamLock recorded as kpt pkg get does."),
    "edit": obj({"sourceRef": NAME_REF("PackageRevision")}, required=["sourceRef"],
                desc="Source: starts from an existing revision of the same package."),
    "upgrade": obj({
        "oldUpstreamRef": NAME_REF("PackageRevision"),
        "newUpstreamRef": NAME_REF("PackageRevision"),
        "localPackageRevisionRef": NAME_REF("PackageRevision"),
        "strategy": s("Merge strategy.", enum=["resource-merge", "fast-forward", "force-delete-replace", "copy-merge"], default="resource-merge"),
    }, required=["oldUpstreamRef", "newUpstreamRef", "localPackageRevisionRef"],
       desc="Source: moves the package to another upstream revision with a three-way merge."),
    "patch": obj({"files": arr(obj({
        "path": s("Path of the file inside the package.", minLength=1),
        "contents": s("New contents of the file."),
        "delete": b("Delete the file."),
        "jsonPatch": arr(free(), "RFC 6902 operations applied to the file's resource."),
    }, required=["path"]), minItems=1)}, required=["files"], desc="Mutation: sets, replaces or deletes files."),
    "eval": obj({
        "image": s("Function image.", minLength=1),
        "configMap": {"type": "object", "additionalProperties": {"type": "string"}},
        "config": free("Function config object."),
    }, required=["image"], desc="Mutation: runs one function imperatively."),
}, required=["type"], desc="One step building the draft (Porch task shapes).")

FUNCTION_RESULT = obj({
    "function": s("Image or exec path of the function."),
    "severity": s(enum=["error", "warning", "info"]),
    "message": s(),
    "resourceRef": free(),
    "file": obj({"path": s(), "index": i()}),
    "field": free(),
}, desc="One result from a function run.")

UPSTREAM_LOCK = obj({
    "type": s(),
    "git": obj({"repo": s(), "directory": s(), "ref": s(), "commit": s()}),
}, desc="The exact upstream the package was cloned or upgraded from (Kptfile upstreamLock).")

KINDS = [
    dict(kind="Repository", plural="repositories", singular="repository", short=["repo"],
         desc="A Git repository of packages registered with Portico (written by admins).",
         spec=obj({
             "type": s("Repository type.", enum=["git", "oci"], default="git"),
             "description": s("Free text."),
             "git": obj({
                 "repo": s("Repository URL: https, http, ssh, git or file.", minLength=1),
                 "branch": s("Branch holding published packages.", default="main", minLength=1),
                 "directory": s("Packages live below this directory.", default=""),
                 "secretRef": SECRET_REF,
                 "createBranch": b("Create the branch when it does not exist.", default=False),
             }, required=["repo"]),
             "deployment": b("Published packages here are deployment-ready.", default=False),
             "content": s("What the repository holds.", enum=["Package", "Function"], default="Package"),
             "upstream": obj({"repositoryRef": NAME_REF("Repository"), "git": GIT_SOURCE},
                             desc="Default upstream repository for clones."),
             "syncInterval": s("How often to poll the repository (Go duration, e.g. 5m).", default="5m",
                               pattern=r"^([0-9]+(\.[0-9]+)?(ms|s|m|h))+$"),
             "mutators": arr(KPT_FUNCTION, "Guardrail functions applied to every package change."),
             "validators": arr(KPT_FUNCTION, "Guardrail functions; a failing validator blocks publishing."),
         }, required=["type"]),
         status=obj({
             "observedGeneration": i(),
             "conditions": CONDITIONS,
             "lastSyncedCommit": s(),
             "lastSyncTime": s(format="date-time"),
             "packageCount": i(),
             "revisionCount": i(),
         }),
         columns=[("Type", "string", ".spec.type", 0), ("Content", "string", ".spec.content", 0),
                  ("Deployment", "boolean", ".spec.deployment", 0),
                  ("Ready", "string", '.status.conditions[?(@.type=="Ready")].status', 0),
                  ("Address", "string", ".spec.git.repo", 0), ("Branch", "string", ".spec.git.branch", 1)]),
    dict(kind="PackageRevision", plural="packagerevisions", singular="packagerevision", short=["pkgrev"],
         desc="A published revision or a draft/proposed workspace found in a registered repository (written only by the controller).",
         spec=obj({
             "repository": s(), "packageName": s(), "workspaceName": s(),
             "revision": i("Published revision number (0 for drafts).", minimum=0),
             "lifecycle": s(enum=["Draft", "Proposed", "Published", "DeletionProposed"]),
         }),
         status=obj({
             "commit": s(), "tag": s(), "branch": s(), "upstreamLock": UPSTREAM_LOCK,
             "publishedAt": s(format="date-time"), "latest": b(), "deployment": b(),
             "upstreamUpdateAvailable": b("A newer upstream revision exists."),
             "latestUpstreamRevision": s(),
             "observedGeneration": i(), "conditions": CONDITIONS,
         }),
         columns=[("Package", "string", ".spec.packageName", 0), ("Workspace", "string", ".spec.workspaceName", 0),
                  ("Revision", "integer", ".spec.revision", 0), ("Latest", "boolean", ".status.latest", 0),
                  ("Lifecycle", "string", ".spec.lifecycle", 0), ("Repository", "string", ".spec.repository", 0),
                  ("Commit", "string", ".status.commit", 1), ("Tag", "string", ".status.tag", 1)]),
    dict(kind="PackageDraft", plural="packagedrafts", singular="packagedraft", short=["pdraft"],
         desc="The intent for one new package revision: tasks that build it, and its lifecycle (written by authors).",
         spec=obj({
             "repository": s("Name of a Repository in the same namespace.", minLength=1),
             "packageName": s("Package path, e.g. team-a/app.", minLength=1, maxLength=253, pattern=PACKAGE_PATH),
             "workspaceName": s("Workspace (draft branch) name.", minLength=1, maxLength=63, pattern=WORKSPACE),
             "lifecycle": s("Draft or Proposed.", enum=["Draft", "Proposed"], default="Draft"),
             "deletion": b("Ask for the deletion of the published revision named by edit.sourceRef.", default=False),
             "tasks": arr(TASK, "Ordered tasks: a source first, then mutations.", minItems=1),
         }, required=["repository", "packageName", "workspaceName", "tasks"]),
         status=obj({
             "observedGeneration": i(), "lifecycle": s(enum=["Draft", "Proposed", "Published", "DeletionProposed", "Deleted"]),
             "conditions": CONDITIONS, "branch": s(), "commit": s(),
             "filesChanged": arr(s()), "functionResults": arr(FUNCTION_RESULT),
             "upstreamLock": UPSTREAM_LOCK, "revision": i(minimum=0), "tag": s(),
             "packageRevision": s("Name of the matching PackageRevision."),
         }),
         columns=[("Package", "string", ".spec.packageName", 0), ("Workspace", "string", ".spec.workspaceName", 0),
                  ("Lifecycle", "string", ".status.lifecycle", 0), ("Revision", "integer", ".status.revision", 0),
                  ("Ready", "string", '.status.conditions[?(@.type=="Ready")].status', 0),
                  ("Repository", "string", ".spec.repository", 1), ("Commit", "string", ".status.commit", 1)]),
    dict(kind="PackageApproval", plural="packageapprovals", singular="packageapproval", short=["papproval"],
         desc="An approver's decision on a proposed PackageDraft (written by approvers).",
         spec=obj({
             "packageDraft": s("Name of a PackageDraft in the same namespace.", minLength=1),
             "decision": s(enum=["Approved", "Rejected"]),
             "comment": s(maxLength=4096),
         }, required=["packageDraft", "decision"]),
         status=obj({
             "observedGeneration": i(), "conditions": CONDITIONS,
             "appliedGeneration": i("The draft's generation the decision was applied to."),
             "appliedAt": s(format="date-time"),
         }),
         columns=[("Draft", "string", ".spec.packageDraft", 0), ("Decision", "string", ".spec.decision", 0),
                  ("Applied", "integer", ".status.appliedGeneration", 0)]),
    dict(kind="Function", plural="functions", singular="function", short=["krmfn"],
         desc="A KRM function found in a Function repository or built in (written only by the controller).",
         spec=obj({
             "image": s(), "images": arr(s()), "description": s(), "keywords": arr(s()),
             "functionTypes": arr(s(enum=["mutator", "validator"])),
             "idempotent": b(), "builtin": b(),
             "repository": s(),
             "appliesTo": arr(obj({"group": s(), "version": s(), "kind": s()})),
         }),
         status=obj({"observedGeneration": i(), "conditions": CONDITIONS}),
         columns=[("Image", "string", ".spec.image", 0), ("Types", "string", ".spec.functionTypes", 0),
                  ("Description", "string", ".spec.description", 0)]),
]

def crd(k):
    cols = [{"name": n, "type": t, "jsonPath": p, **({"priority": pr} if pr else {})} for n, t, p, pr in k["columns"]]
    cols.append({"name": "Age", "type": "date", "jsonPath": ".metadata.creationTimestamp"})
    schema = obj({"apiVersion": s(), "kind": s(), "metadata": {"type": "object"},
                  "spec": k["spec"], "status": k["status"]}, desc=k["desc"])
    return {
        "apiVersion": "apiextensions.k8s.io/v1", "kind": "CustomResourceDefinition",
        "metadata": {"name": f'{k["plural"]}.{GROUP}', "labels": {"app.kubernetes.io/part-of": "portico"}},
        "spec": {
            "group": GROUP, "scope": "Namespaced",
            "names": {"kind": k["kind"], "listKind": k["kind"] + "List", "plural": k["plural"],
                      "singular": k["singular"], "shortNames": k["short"], "categories": ["portico"]},
            "versions": [{"name": VERSION, "served": True, "storage": True,
                          "subresources": {"status": {}}, "additionalPrinterColumns": cols,
                          "schema": {"openAPIV3Schema": schema}}],
        },
    }

def to_yaml(v, indent=0):
    """A tiny deterministic YAML writer (block style, 2-space indent) for plain data."""
    pad = "  " * indent
    if isinstance(v, dict):
        if not v: return " {}"
        out = ""
        for key, val in v.items():
            if isinstance(val, (dict, list)) and val:
                out += f"\n{pad}{key}:" + to_yaml(val, indent + 1)
            else:
                out += f"\n{pad}{key}:" + to_yaml(val, indent + 1)
        return out
    if isinstance(v, list):
        if not v: return " []"
        out = ""
        for item in v:
            if isinstance(item, dict) and item:
                body = to_yaml(item, indent + 1)
                lines = body.split("\n")[1:]
                first = lines[0].lstrip()
                rest = "\n".join(lines[1:])
                out += f"\n{pad}- {first}" + (("\n" + rest) if rest else "")
            else:
                out += f"\n{pad}-" + to_yaml(item, indent + 1)
        return out
    if isinstance(v, bool): return " true" if v else " false"
    if isinstance(v, int): return f" {v}"
    return " " + json.dumps(v) if needs_quote(v) else f" {v}"

def needs_quote(sv):
    import re
    if sv == "" or sv.strip() != sv: return True
    if re.fullmatch(r"[A-Za-z0-9_./-]+( [A-Za-z0-9_./,()'-]+)*", sv) and sv.lower() not in ("true", "false", "yes", "no", "on", "off", "null", "~", "y", "n") and not re.fullmatch(r"[-+]?[0-9.]+(e[0-9]+)?", sv):
        return False
    return True

def main():
    root = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "crds")
    os.makedirs(root, exist_ok=True)
    check = "--check" in sys.argv
    stale = []
    for k in KINDS:
        text = "# Generated by hack/gen-crds.py; do not edit by hand.\n---" + to_yaml(crd(k)) + "\n"
        path = os.path.join(root, f'{GROUP}_{k["plural"]}.yaml')
        if check:
            if not os.path.exists(path) or open(path).read() != text: stale.append(path)
        else:
            open(path, "w").write(text)
    if stale:
        print("stale CRDs (run python3 hack/gen-crds.py):", *stale); sys.exit(1)

main()

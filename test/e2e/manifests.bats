#!/usr/bin/env bats
# The shipped manifests: CRDs are generated and current, the kustomize base builds, and
# the examples parse. (Serving them is covered in standalone-crds-portico.bats.)

setup() {
  cd "$PORTICO_ROOT"
}

@test "crds/ is what hack/gen-crds.py generates" {
  run python3 hack/gen-crds.py --check
  [ "$status" -eq 0 ] || { echo "$output"; false; }
}

@test "every CRD has the status subresource, printer columns, short names and the portico category" {
  for f in crds/*.yaml; do
    run python3 - "$f" <<'PY'
import sys, yaml
d = yaml.safe_load(open(sys.argv[1]))
assert d["kind"] == "CustomResourceDefinition"
assert d["spec"]["group"] == "portico.dev"
names = d["spec"]["names"]
assert "portico" in names["categories"], "category"
assert names["shortNames"], "shortNames"
for v in d["spec"]["versions"]:
    assert v["name"] == "v1alpha1"
    assert v["subresources"] == {"status": {}}
    assert any(c["name"] == "Age" for c in v["additionalPrinterColumns"])
    s = v["schema"]["openAPIV3Schema"]
    assert s["properties"]["spec"]["type"] == "object"
    assert s["properties"]["status"]["properties"]["conditions"]["items"]["required"]
print("ok")
PY
    [ "$status" -eq 0 ] || { echo "$f: $output"; false; }
  done
}

@test "the kustomize base builds with kubectl kustomize" {
  command -v kubectl >/dev/null || skip "LOUD SKIP: kubectl is not installed"
  run kubectl kustomize manifests
  [ "$status" -eq 0 ] || { echo "$output"; false; }
  for kind in Namespace ServiceAccount ClusterRole ClusterRoleBinding Role RoleBinding Deployment; do
    grep -q "^kind: $kind$" <<<"$output"
  done
  for role in portico-admin portico-author portico-approver portico-viewer; do
    grep -q "name: $role$" <<<"$output"
  done
}

@test "the author role cannot approve and the approver role cannot author" {
  run python3 - <<'PY'
import yaml
docs = [d for d in yaml.safe_load_all(open("manifests/rbac.yaml")) if d]
roles = {d["metadata"]["name"]: d for d in docs if d["kind"] == "ClusterRole"}
def writes(role, resource):
    return any(resource in r["resources"] and "create" in r["verbs"] for r in roles[role]["rules"])
assert writes("portico-author", "packagedrafts") and not writes("portico-author", "packageapprovals")
assert writes("portico-approver", "packageapprovals") and not writes("portico-approver", "packagedrafts")
assert not writes("portico-viewer", "packagedrafts")
print("ok")
PY
  [ "$status" -eq 0 ] || { echo "$output"; false; }
}

#!/usr/bin/env bash
# Makes one kit sign with the new key before JWT_SECRET_ROTATION_DATE — the outage the operator exists to
# prevent — in a temporary copy, and runs the conformance suite against that copy. The suite must fail:
# this script exits 0 only if it did (and prints the suite's output either way). The shipped kits have no
# hook for this; the copy is patched and thrown away.
#
#   bash sdk/conformance/mutate.sh typescript|go|python
#
# Go builds: run it under the machine's heavy lock (flock /work/.heavy.lock ...) where there is one.
set -euo pipefail
lang=${1:?usage: mutate.sh typescript|go|python}
repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd -P)
# Inside the repository, so the TypeScript copy resolves jose, chai and mocha from its node_modules.
tmp=$(mktemp -d "$repo/.sdk-mutation.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
cp -r "$repo/sdk/conformance" "$tmp/conformance"
cp -r "$repo/sdk/$lang" "$tmp/$lang"

# patch <file> <exact line fragment> <replacement>: fails loudly if the fragment is gone (the kit changed).
patch_kit() {
  local file=$tmp/$lang/$1
  grep -qF -- "$2" "$file" || { echo "mutate.sh: '$2' not found in sdk/$lang/$1: update the mutation" >&2; exit 2; }
  FROM=$2 TO=$3 perl -0pi -e 's/\Q$ENV{FROM}\E/$ENV{TO}/' "$file"
}

case $lang in
typescript)
  patch_kit src/keys.ts 'return now.getTime() >= ring.rotationDate.getTime() ? ring.next : ring.current;' \
    'return ring.next; // MUTATION: signs with NEW before the date'
  run=(npx mocha --no-config --node-option import=tsx --extension ts --reporter dot "$tmp/typescript/test/conformance.test.ts")
  ;;
go)
  patch_kit keys.go 'if now.Before(r.RotationDate) {' 'if false && now.Before(r.RotationDate) { // MUTATION: signs with NEW before the date'
  run=(bash -c "cd '$tmp/go' && go test -count=1 ./...")
  ;;
python)
  patch_kit src/jwt_consumer_kit/keys.py 'return self.next if now >= self.rotation_date else self.current' \
    'return self.next  # MUTATION: signs with NEW before the date'
  run=(bash -c "cd '$tmp/python' && ${PYTHON:-/usr/bin/python3} -m unittest discover -s tests")
  ;;
*)
  echo "mutate.sh: unknown kit $lang" >&2
  exit 2
  ;;
esac

echo "mutate.sh: sdk/$lang made to sign with JWT_SECRET_NEW before JWT_SECRET_ROTATION_DATE; running the suite"
if (cd "$repo" && "${run[@]}") 2>&1; then
  echo "mutate.sh: the conformance suite PASSED a $lang kit that signs before the date: it has no teeth"
  exit 1
fi
echo "mutate.sh: the conformance suite failed the mutated $lang kit, as it must"

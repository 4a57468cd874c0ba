#!/usr/bin/env bash
# Regenerates every client in gen/ from proto/: TypeScript (buf + protoc-gen-es), Go (buf + protoc-gen-go and
# protoc-gen-go-grpc) and Python (grpcio-tools). Generator versions are pinned here, in package.json and in
# requirements-dev.txt; the Go plugins are installed into the ignored .tools/bin on first use.
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="$PWD/node_modules/.bin:$PATH"

PROTOC_GEN_GO_VERSION=v1.36.11
PROTOC_GEN_GO_GRPC_VERSION=v1.6.1

mkdir -p .tools/bin
install_go_tool() { # module version binary
  local stamp=".tools/bin/$3.version"
  if [ ! -x ".tools/bin/$3" ] || [ "$(cat "$stamp" 2>/dev/null)" != "$2" ]; then
    GOBIN="$PWD/.tools/bin" go install "$1@$2"
    echo "$2" > "$stamp"
  fi
}
install_go_tool google.golang.org/protobuf/cmd/protoc-gen-go "$PROTOC_GEN_GO_VERSION" protoc-gen-go
install_go_tool google.golang.org/grpc/cmd/protoc-gen-go-grpc "$PROTOC_GEN_GO_GRPC_VERSION" protoc-gen-go-grpc

# TypeScript (buf.gen.yaml cleans gen/ts first).
buf generate --template buf.gen.yaml

# Go: keep gen/go/go.mod, replace the generated files.
find gen/go -name '*.pb.go' -delete 2>/dev/null || true
buf generate --template buf.gen.go.yaml

# Python: generated modules plus the package files, so `pip install ./gen/python` works.
PY=$(bash scripts/tools-python.sh)
rm -rf gen/python/consort
mkdir -p gen/python
"$PY" -m grpc_tools.protoc -I proto \
  --python_out=gen/python --pyi_out=gen/python --grpc_python_out=gen/python \
  $(cd proto && find consort -name '*.proto' | sort)
touch gen/python/consort/__init__.py gen/python/consort/v1/__init__.py

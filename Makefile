# perdiem: two commands.
#   make run    builds perdiem and runs examples/agents/hello.lua
#   make test   builds and runs the whole suite twice: normal, then ASan+UBSan
#   make bench  builds and runs the benchmark programs
#   make fuzz   builds the libFuzzer targets with clang and fuzzes each parser
# Each target installs the Debian packages it needs, only when some are missing.

BUILD_DIR   ?= build
JOBS        ?= 2
RELEASE_DIR := $(BUILD_DIR)/release
SANITIZE_DIR := $(BUILD_DIR)/sanitize

DEBIAN_PACKAGES := cmake g++ make pkg-config \
  libcurl4-openssl-dev nlohmann-json3-dev libsecp256k1-dev libsodium-dev \
  libsqlite3-dev liblua5.4-dev doctest-dev libcpp-httplib-dev libcrypto++-dev libmimalloc-dev \
  libssl-dev zlib1g-dev libbrotli-dev python3
# libFuzzer needs clang and its runtime (a Recommends of clang, so named explicitly).
FUZZ_PACKAGES := clang libclang-rt-14-dev

SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)

.PHONY: run test bench fuzz deps node-deps build build-sanitize install clean format

# install-missing PACKAGES...: apt-get only the packages dpkg does not already have.
define install-missing
	@missing=$$(for p in $(1); do \
	  dpkg-query -W -f='$${Status}\n' $$p 2>/dev/null | grep -q 'install ok installed' || echo $$p; done); \
	if [ -n "$$missing" ]; then \
	  echo "installing missing Debian packages:" $$missing; \
	  $(SUDO) apt-get update -qq && \
	  $(SUDO) env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $$missing; \
	fi
endef

deps:
	$(call install-missing,$(DEBIAN_PACKAGES))

# The MCP tests install a real MCP server from the npm registry, so they need node and
# npm. Debian's are installed only when no npm is on the PATH: a machine may carry
# another Node.js build (NodeSource's), which Debian's npm package would conflict with.
node-deps:
	@command -v npm >/dev/null 2>&1 || { echo "installing Debian's nodejs and npm"; \
	  $(SUDO) apt-get update -qq && \
	  $(SUDO) env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends nodejs npm; }

$(RELEASE_DIR)/CMakeCache.txt: | deps
	cmake -S . -B $(RELEASE_DIR) -DCMAKE_BUILD_TYPE=RelWithDebInfo

$(SANITIZE_DIR)/CMakeCache.txt: | deps
	cmake -S . -B $(SANITIZE_DIR) -DCMAKE_BUILD_TYPE=Debug -DPERDIEM_SANITIZE=ON

build: deps $(RELEASE_DIR)/CMakeCache.txt
	cmake --build $(RELEASE_DIR) -j$(JOBS)

build-sanitize: deps $(SANITIZE_DIR)/CMakeCache.txt
	cmake --build $(SANITIZE_DIR) -j$(JOBS)

run: build
	$(RELEASE_DIR)/perdiem run examples/agents/hello.lua

test: node-deps build build-sanitize
	cd $(RELEASE_DIR) && ctest --output-on-failure -j$(JOBS)
	cd $(SANITIZE_DIR) && ctest --output-on-failure -j$(JOBS)

# Installs the library, headers, CMake package, pkg-config file, the command and the plan
# library under PREFIX (docs/embedding.md).
PREFIX ?= /usr/local
install: build
	cmake --install $(RELEASE_DIR) --prefix $(PREFIX)

bench: build
	cmake --build $(RELEASE_DIR) -j$(JOBS) --target benchmarks
	@for b in $(RELEASE_DIR)/bench/*; do [ -x "$$b" ] && "$$b"; done; true

# libFuzzer (clang) over the parsers of untrusted input, FUZZ_SECONDS each.
FUZZ_DIR     := $(BUILD_DIR)/fuzz
FUZZ_SECONDS ?= 60
fuzz: deps
	$(call install-missing,$(FUZZ_PACKAGES))
	CC=clang CXX=clang++ cmake -S . -B $(FUZZ_DIR) -DCMAKE_BUILD_TYPE=Debug -DPERDIEM_FUZZ=ON
	cmake --build $(FUZZ_DIR) -j$(JOBS) --target fuzz_grant fuzz_receipt fuzz_keystore \
	  fuzz_sse fuzz_openai_decode fuzz_anthropic_decode fuzz_retry_after
	@for t in grant receipt keystore sse openai_decode anthropic_decode retry_after; do \
	  mkdir -p $(FUZZ_DIR)/corpus-$$t; \
	  $(FUZZ_DIR)/fuzz/fuzz_$$t -max_total_time=$(FUZZ_SECONDS) $(FUZZ_DIR)/corpus-$$t tests/fuzz/corpus/$$t || exit 1; \
	done

format:
	clang-format -i $$(git ls-files '*.cpp' '*.hpp' '*.h' '*.c')

clean:
	rm -rf $(BUILD_DIR)

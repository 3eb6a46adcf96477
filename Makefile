# The 42-style build: `make`, `make clean`, `make fclean`, `make re`.
#
# On Linux it builds static, stripped release binaries (musl); on macOS and
# the BSDs, ordinary release binaries on the C library (README, "macOS and
# the BSDs"). Either way it copies them to bin/server and bin/client. (They
# cannot be ./server and ./client: those names are the source folders of the
# two programs.) Cargo works as usual beside it. Written for both GNU make
# and BSD make: the choice is made in the shell, not with make conditionals.

TARGET := x86_64-unknown-linux-musl
LINUX   = [ "$$(uname -s)" = Linux ]
OUT     = $$($(LINUX) && echo target/$(TARGET)/release || echo target/release)

all: bin/server bin/client

bin/server bin/client: build
	@mkdir -p bin
	@cp $(OUT)/$(@F) $@
	@if $(LINUX); then kind=static; else kind="$$(uname -s)"; fi; \
	echo "built $@ ($$(wc -c < $@ | tr -d ' ') bytes, $$kind)"

build:
	@if $(LINUX); then \
	    rustup target list --installed 2>/dev/null | grep -qx $(TARGET) || rustup target add $(TARGET); \
	    echo cargo build --release --target $(TARGET) -p minitalk-server -p minitalk-client; \
	    cargo build --release --target $(TARGET) -p minitalk-server -p minitalk-client; \
	else \
	    echo cargo build --release -p minitalk-server -p minitalk-client; \
	    cargo build --release -p minitalk-server -p minitalk-client; \
	fi

clean:
	@if $(LINUX); then cargo clean --release --target $(TARGET); else cargo clean --release; fi

fclean: clean
	rm -rf bin

re: fclean all

.PHONY: all build clean fclean re

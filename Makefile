# The 42-style build: `make`, `make clean`, `make fclean`, `make re`.
#
# It builds static, stripped release binaries and copies them to bin/server
# and bin/client. (They cannot be ./server and ./client: those names are the
# source folders of the two programs.) Cargo works as usual beside it.

TARGET := x86_64-unknown-linux-musl
OUT    := target/$(TARGET)/release

all: bin/server bin/client

bin/server bin/client: build
	@mkdir -p bin
	@cp $(OUT)/$(notdir $@) $@
	@echo "built $@ ($$(wc -c < $@) bytes, static)"

build:
	@rustup target list --installed 2>/dev/null | grep -qx $(TARGET) || rustup target add $(TARGET)
	cargo build --release --target $(TARGET) -p minitalk-server -p minitalk-client

clean:
	cargo clean --release --target $(TARGET)

fclean: clean
	rm -rf bin

re: fclean all

.PHONY: all build clean fclean re

# Build: docker build -t relay .
FROM rust:1.95-bookworm AS build
WORKDIR /src
COPY . .
RUN cargo build --release -p relay-server

FROM debian:bookworm-slim
RUN apt-get update && apt-get install -y --no-install-recommends ca-certificates && rm -rf /var/lib/apt/lists/*
COPY --from=build /src/target/release/relay-server /usr/local/bin/relay-server
COPY migrations /migrations
EXPOSE 6001
ENTRYPOINT ["relay-server"]
CMD ["serve"]

# syntax=docker/dockerfile:1

# Build a static binary: distroless/static has no libc, so cgo must be off.
FROM golang:1.26 AS build
WORKDIR /src
# Modules first, so that source edits reuse the cached download layer.
COPY go.mod go.sum ./
RUN go mod download
COPY . .
# VERSION stamps `aksbot version` (docker build --build-arg VERSION=v1.2.3).
ARG VERSION=dev
RUN CGO_ENABLED=0 go build -trimpath -ldflags="-s -w -X main.version=${VERSION}" -o /aksbot ./cmd/bot
# The data directory must exist, owned by the runtime user, before VOLUME: an anonymous volume
# copies the image directory's ownership, and the nonroot user cannot create it at run time.
RUN mkdir -p /data

FROM gcr.io/distroless/static-debian12:nonroot
COPY --from=build /aksbot /aksbot
COPY --from=build --chown=65532:65532 /data /data
# The bbolt data file (jobs, events, message references) lives on the volume so restarts resume jobs.
ENV AKSBOT_DB=/data/aksbot.db
VOLUME /data
# Probes and metrics (AKSBOT_HTTP_ADDR, default :8080); Slack socket mode needs no inbound port.
EXPOSE 8080
USER 65532:65532
ENTRYPOINT ["/aksbot"]

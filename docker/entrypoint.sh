#!/bin/sh
# The image's entry point: runs `roster` with its arguments, after two conveniences for
# docker compose (see docker-compose.yml):
#
# - ROSTER_JWT_SECRET_FILE: when ROSTER_JWT_SECRET is not set, the secret is read from
#   this file, which is made (48 random bytes, base64) the first time. Every service and
#   every `docker compose run --rm roster …` mounts the same volume, so they all sign and
#   verify with one secret that no one had to generate or export by hand.
# - `first-account`: creates the first account (ROSTER_FIRST_ACCOUNT_NAME,
#   ROSTER_FIRST_ADMIN_EMAIL, ROSTER_FIRST_ADMIN_NAME) once; a marker file next to the
#   secret makes later runs do nothing.
set -eu

if [ -z "${ROSTER_JWT_SECRET:-}" ] && [ -n "${ROSTER_JWT_SECRET_FILE:-}" ]; then
  if [ ! -s "$ROSTER_JWT_SECRET_FILE" ]; then
    umask 077
    tmp="$ROSTER_JWT_SECRET_FILE.$$"
    head -c 48 /dev/urandom | base64 | tr -d '\n' >"$tmp"
    # `ln` creates the file only if it does not exist yet: of two containers starting at
    # once, both end up reading the one that won.
    ln "$tmp" "$ROSTER_JWT_SECRET_FILE" 2>/dev/null || true
    rm -f "$tmp"
  fi
  ROSTER_JWT_SECRET="$(cat "$ROSTER_JWT_SECRET_FILE")"
  export ROSTER_JWT_SECRET
fi

if [ "${1:-}" = "first-account" ]; then
  marker="$(dirname "${ROSTER_JWT_SECRET_FILE:-/data/x}")/first-account.done"
  if [ -e "$marker" ]; then
    echo "first account exists already ($marker); mint a token with:"
    echo "  docker compose run --rm roster token --email ${ROSTER_FIRST_ADMIN_EMAIL:-admin@example.com}"
    exit 0
  fi
  roster account create \
    --name "${ROSTER_FIRST_ACCOUNT_NAME:-Example Org}" \
    --admin-email "${ROSTER_FIRST_ADMIN_EMAIL:-admin@example.com}" \
    --admin-name "${ROSTER_FIRST_ADMIN_NAME:-First Admin}"
  touch "$marker"
  exit 0
fi

exec roster "$@"

#!/bin/sh
# A pre-provisioning hook for tests. Behaviour is chosen by its first argument:
#   allow     allow, overriding SerialNumber with "hooked-<SerialNumber>"
#   deny      allowProvisioning false
#   garbage   not JSON
#   fail      exit status 3
#   sleep     sleep 10 (a hook that times out)
#   slow N    sleep N seconds, then allow
#   record F  write the input to file F, then allow
input=$(cat)
case "$1" in
  allow)
    serial=$(printf '%s' "$input" | sed -n 's/.*"SerialNumber":"\([^"]*\)".*/\1/p')
    printf '{"allowProvisioning":true,"parameterOverrides":{"SerialNumber":"hooked-%s"}}' "$serial" ;;
  deny) printf '{"allowProvisioning":false}' ;;
  garbage) printf 'this is not json' ;;
  fail) exit 3 ;;
  sleep) sleep 10; printf '{"allowProvisioning":true}' ;;
  slow) sleep "$2"; printf '{"allowProvisioning":true}' ;;
  record) printf '%s' "$input" > "$2"; printf '{"allowProvisioning":true}' ;;
  *) exit 2 ;;
esac

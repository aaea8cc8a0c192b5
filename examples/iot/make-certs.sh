#!/bin/sh
# Certificates for the IoT example (examples/iot/README.md), made with the openssl CLI:
#
#   DIR/ca.pem, DIR/ca.key           the device CA: Petrel's `client_ca`, and the CA the devices
#                                    use to verify the server (one CA keeps the example small)
#   DIR/server.pem, DIR/server.key   Petrel's certificate (SAN: localhost, 127.0.0.1, $IOT_SERVER_SAN)
#   DIR/devices/ID.pem, ID.key       one client certificate per device, subject CN=ID
#
# Usage: make-certs.sh [DIR] [DEVICE_ID...]      (default: ./certs next to this script, dev-a dev-b)
# Run it again with new ids to add devices: the CA and the server certificate are kept when they
# exist, existing device certificates too. Keys are written 0600. Never commit DIR (.gitignore).
#
# Environment: IOT_SERVER_SAN   extra subjectAltName entries for the server certificate, e.g.
#                               "DNS:gateway.lan,IP:192.168.1.10" when devices connect over a LAN
#              IOT_DAYS         validity in days (default 365)
set -eu

HERE=$(cd "$(dirname "$0")" && pwd)
DIR=${1:-$HERE/certs}
[ $# -gt 0 ] && shift
[ $# -gt 0 ] || set -- dev-a dev-b
DAYS=${IOT_DAYS:-365}
SAN="DNS:localhost,IP:127.0.0.1${IOT_SERVER_SAN:+,$IOT_SERVER_SAN}"
EC="-newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes"

command -v openssl >/dev/null || { echo "make-certs.sh: the openssl CLI is required" >&2; exit 1; }
umask 077
mkdir -p "$DIR/devices"
cd "$DIR"

# issue NAME SUBJECT EXTENSIONS...: NAME.key + NAME.pem signed by the CA, random 128-bit serial.
issue() {
    name=$1 subject=$2
    shift 2
    printf '%s\n' "basicConstraints=critical,CA:FALSE" "keyUsage=critical,digitalSignature" "$@" > "$name.ext"
    # shellcheck disable=SC2086
    openssl req $EC -keyout "$name.key" -out "$name.csr" -subj "$subject" 2>/dev/null
    openssl x509 -req -in "$name.csr" -CA ca.pem -CAkey ca.key -set_serial "0x$(openssl rand -hex 16)" \
        -days "$DAYS" -sha256 -extfile "$name.ext" -out "$name.pem" 2>/dev/null
    rm -f "$name.csr" "$name.ext"
    chmod 600 "$name.key"
    chmod 644 "$name.pem"
}

if [ ! -f ca.pem ] || [ ! -f ca.key ]; then
    # shellcheck disable=SC2086
    openssl req -x509 $EC -keyout ca.key -out ca.pem -days "$DAYS" -subj "/O=Petrel IoT Example/CN=Petrel IoT Example CA" \
        -addext "basicConstraints=critical,CA:TRUE" -addext "keyUsage=critical,keyCertSign,cRLSign" 2>/dev/null
    chmod 644 ca.pem
    echo "created $DIR/ca.pem"
fi
if [ ! -f server.pem ] || [ ! -f server.key ]; then
    issue server "/O=Petrel IoT Example/CN=localhost" "subjectAltName=$SAN" "extendedKeyUsage=serverAuth"
    echo "created $DIR/server.pem ($SAN)"
fi
for id in "$@"; do
    case $id in
        ''|*[!A-Za-z0-9._-]*) echo "make-certs.sh: device id '$id': use letters, digits, . _ -" >&2; exit 2 ;;
    esac
    if [ -f "devices/$id.pem" ] && [ -f "devices/$id.key" ]; then
        echo "kept    $DIR/devices/$id.pem"
        continue
    fi
    issue "devices/$id" "/O=Petrel IoT Example/OU=devices/CN=$id" "extendedKeyUsage=clientAuth"
    echo "created $DIR/devices/$id.pem (serial $(openssl x509 -in "devices/$id.pem" -noout -serial | cut -d= -f2))"
done

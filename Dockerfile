# One image with mosquitto, the provisioning plugin, provisiond and
# provision-device, built from this checkout. Used by compose.yaml. It has
# only what building and running need (scripts/install-deps --runtime): no
# test suite, no browser.
FROM debian:bookworm
COPY . /src
WORKDIR /src
RUN scripts/build --runtime --target provisiond provision-device mosquitto_provision \
 && install -m 0755 build/service/provisiond build/device/provision-device /usr/local/bin/ \
 && install -D -m 0644 build/mosquitto-plugin/mosquitto_provision.so /usr/local/lib/provision/mosquitto_provision.so \
 && rm -rf build

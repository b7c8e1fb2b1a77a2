#!/bin/sh
# Prints the greeting and the page this image serves (needs a base with /bin/sh to run).
echo "${GREETING:-hello}"
cat /srv/www/index.html

#!/usr/bin/env bash
# Print the Debian mirror this machine's apt sources use (deb822 `URIs:` or one-line `deb` entries), or Debian's
# own when none is found: install-engine.sh and build-images.sh fetch from the mirror apt already reaches.
{
    grep -hE '^[[:space:]]*URIs:' /etc/apt/sources.list.d/*.sources 2>/dev/null | awk '{print $2}'
    grep -hE '^[[:space:]]*deb ' /etc/apt/sources.list /etc/apt/sources.list.d/*.list 2>/dev/null | awk '{print $2}'
} | grep -E '/debian/?$' | head -n1 | grep . || echo http://deb.debian.org/debian

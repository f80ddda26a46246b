"""Talk APDU to the My Number card: constants, APDUs, TLV, channel, applications, transports."""

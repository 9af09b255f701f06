"""The transport layer: sshjobs' one adapter to asyncssh (private; not a public API).

Every use of a name asyncssh does not document lives in this subpackage, so that a new asyncssh
release is checked here and nowhere else; the rest of sshjobs talks to asyncssh only through
its documented API or through this package.

- :mod:`.connect` opens a node's connection (options, gateways, error translation);
- :mod:`.fastpath` is the short handshake (pipelined authentication);
- :mod:`.handshakes` bounds the handshakes in progress at once;
- :mod:`.hostkeys` is the host-key policy;
- :mod:`.sshconfig` hands asyncssh per-host reduced copies of the ssh config files;
- :mod:`.loader` imports asyncssh;
"""

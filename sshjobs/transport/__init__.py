"""The transport layer: sshjobs' one adapter to asyncssh (private; not a public API).

Every use of a name asyncssh does not document lives in this subpackage, so that a new asyncssh
release is checked here and nowhere else; the rest of sshjobs talks to asyncssh only through
its documented API or through this package.

- :mod:`.options` holds what a node asks for, and the same resolved for its host;
- :mod:`.connect` opens one connection with resolved options (through a tunnel or not);
- :mod:`.failures` turns what went wrong into our errors, naming the host;
- :mod:`.fastpath` is the short handshake (pipelined authentication);
- :mod:`.handshakes` bounds the handshakes in progress at once;
- :mod:`.hostconfig` reads what the ssh config says for a host;
- :mod:`.hostkeys` is the host-key policy;
- :mod:`.sshconfig` hands asyncssh per-host reduced copies of the ssh config files;
- :mod:`.loader` imports asyncssh;
- :mod:`.versions` names the asyncssh versions this package was tested with.

Above it, :mod:`sshjobs.connection` shares a node's connection between its users and chains
gateways; the transport knows nothing of nodes, jobs or formatters.
"""

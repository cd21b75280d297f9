"""The portal's password hasher: Argon2id with the parameters OWASP's Password Storage Cheat Sheet
recommends (19 MiB of memory, 2 passes, 1 lane). Django's own Argon2 hasher asks for 100 MiB and 8
lanes, which costs about as much CPU per sign-in as PBKDF2's million iterations; these settings keep
Argon2's resistance to GPU cracking (memory-hard) at a fraction of the CPU of a sign-in, so a
month-end morning of sign-ins does not queue on a two-core county server.

Hashes made with other parameters or hashers are upgraded at the user's next sign-in (Django's
``must_update``)."""

from __future__ import annotations

from django.contrib.auth.hashers import Argon2PasswordHasher


class PortalArgon2PasswordHasher(Argon2PasswordHasher):
    # Same algorithm name ("argon2"): existing Argon2 hashes still verify; their parameters are in
    # the hash, and ``must_update`` re-hashes those that differ from these.
    time_cost = 2
    memory_cost = 19 * 1024  # KiB
    parallelism = 1

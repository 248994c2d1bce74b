"""Identity's use cases, one module per thing a person does; services/identity/service.py composes them.

Each use case opens a unit of work, loads, applies the rules of services/identity/domain/, writes the outbox (and
the mail outbox), commits. A statement built once lives beside the use case that runs it.

    base.py            what every use case is given (config, sessions, keys, mail) and how it writes events and mail
    practice.py        the practice settings: read, changed, the row made on the first read
    sign_in.py         sign-in, the two-factor step, refresh and sign-out, the throttle, asking the password again
    password_reset.py  the reset link by mail (the same work for unknown addresses) and the new password
    staff_users.py     staff accounts (created, listed, deactivated), the first admin, two-factor set-up
    clients.py         client records (created, listed, edited) and a change of the e-mail a client signs in with
    invitations.py     the portal invitation, and registration from its link
    my_information.py  a client's own details and the practice's review of each change
"""

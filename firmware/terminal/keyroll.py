"""Terminal side of the key-update embodiments 2-5: which path to take, and the flows.

Loaded only when a card of another scheme than symmetric needs its transfer key rolled.
`target` is the card with the older transfer key (the seed's card A), `source` the newer one.

    path                  when                                          seed
    update-key            both cards can send keys under an update key  Fig. 3, 10, 17
                          and hold the same update key ID
    preloaded             the target holds pre-loaded transfer keys     Fig. 14
    public-key            both cards have certificates and the update   Fig. 7, 11, 18
                          key path is not open to them
"""
from common import cvc
from common import proto as P
from common.tlv import encode, parse, uint
from terminal.cardlink import SettlementError

SCHEME_NAMES = {P.SCHEME_SYMMETRIC: "symmetric", P.SCHEME_PKI: "pki", P.SCHEME_HYBRID: "hybrid",
                P.SCHEME_PRELOADED: "preloaded", P.SCHEME_HYBRID_UPDATE: "hybrid-update"}
_SENDS_KEYS = (P.SCHEME_SYMMETRIC, P.SCHEME_HYBRID, P.SCHEME_HYBRID_UPDATE)
_UPDATE_KEY = _SENDS_KEYS + (P.SCHEME_PRELOADED,)
_PUBLIC_KEY = (P.SCHEME_PKI, P.SCHEME_HYBRID, P.SCHEME_HYBRID_UPDATE)
_FIGURE_STEPS = {P.SCHEME_PKI: 3000, P.SCHEME_HYBRID: 5000, P.SCHEME_HYBRID_UPDATE: 8000}
_COMMAND_DATA = 255  # short APDU: the certificate, update random and date must fit


def _name(card):
    return "%s (%s)" % (card.label, SCHEME_NAMES.get(card.scheme, card.scheme))


def choose(target, source):
    """S4003, S6003, S7003: the path that rolls `target` forward to `source`'s transfer key."""
    same_update_key = target.update_key_id == source.update_key_id
    if target.scheme == P.SCHEME_PRELOADED:
        if source.scheme in _UPDATE_KEY and same_update_key:
            return "preloaded"
        raise SettlementError("S6003", "card %s can only activate a pre-loaded key under the "
                              "update key of card %s, and their update key IDs differ (%d, %d)"
                              % (_name(target), _name(source), target.update_key_id,
                                 source.update_key_id))
    if target.scheme in _SENDS_KEYS and source.scheme in _SENDS_KEYS and same_update_key:
        return "update-key"
    if target.scheme in _PUBLIC_KEY and source.scheme in _PUBLIC_KEY:
        return "public-key"
    raise SettlementError("S1003", "cards %s and %s share no way to roll the transfer key "
                          "(update key IDs %d, %d)" % (_name(target), _name(source),
                                                       target.update_key_id,
                                                       source.update_key_id))


def roll(target, source, date, steps, crl=None):
    """Roll `target` forward to `source`'s transfer key; returns the path taken (the
    receipt's key_roll)."""
    path = choose(target, source)
    if path == "update-key":
        from terminal.settlement import roll_transfer_key

        roll_transfer_key(target, source, steps)
    elif path == "preloaded":
        roll_preloaded(target, source, steps)
    else:
        roll_public_key(target, source, date, steps, crl)
    return path


def roll_preloaded(target, source, steps):
    """S6004-S6006: only the active transfer key ID moves, authenticated under the update key
    for the target's update random number (fetched with S6001's SELECT)."""
    steps.append("S6004")  # merged into the SELECT of the target, as S1004
    steps.append("S6005")
    got = source.link.command("S6005", P.INS_KEY_ACTIVATION_OBTAIN,
                              encode(P.TAG_UPDATE_RANDOM, target.update_random)
                              + encode(P.TAG_PEER_ID, target.card_id))
    steps.append("S6006")
    try:
        target.link.command("S6006", P.INS_KEY_ACTIVATE,
                            encode(P.TAG_PEER_ID, source.card_id)
                            + encode(P.TAG_TRANSFER_KEY_ID, got[P.TAG_TRANSFER_KEY_ID])
                            + encode(P.TAG_UPDATE_KEY_ID, got[P.TAG_UPDATE_KEY_ID])
                            + encode(P.TAG_MAC, got[P.TAG_MAC]))
    except SettlementError as e:
        if e.sw != P.SW_NOT_FOUND:
            raise
        raise SettlementError("S6006", "card %s holds no pre-loaded transfer key %d"
                              % (target.label, source.transfer_key_id), e.sw) from None
    target.transfer_key_id = source.transfer_key_id


def certificate(card, step, date, crl=None):
    """S3101A/B: the card's certificate (a 7F21 TLV), checked by the terminal for a clear
    message: it names this card, is valid on `date`, is not revoked. The cards check it in
    full (signature, CA) themselves."""
    info = parse(card.link.command(step, P.INS_GET_KEY_INFO, raw=True))
    value = info.get(P.TAG_CV_CERTIFICATE)
    if value is None:
        raise SettlementError(step, "card %s holds no certificate" % card.label)
    data = encode(P.TAG_CV_CERTIFICATE, value)
    try:
        cert = cvc.parse(data)
    except ValueError as e:
        raise SettlementError(step, "card %s sent a malformed certificate (%s)"
                              % (card.label, e.args[0])) from None
    if cert.card_id != card.card_id:
        raise SettlementError(step, "card %s's certificate names another card" % card.label)
    if crl is not None:
        crl.check(step, card.label, cert.card_id)
    from terminal.settlement import fmt_date

    if date < cert.effective:
        raise SettlementError(step, "card %s's certificate is not valid before %s"
                              % (card.label, fmt_date(cert.effective)))
    if date > cert.expiration:
        raise SettlementError(step, "card %s's certificate expired on %s"
                              % (card.label, fmt_date(cert.expiration)))
    return data


def roll_public_key(target, source, date, steps, crl=None):
    """S3002-S3006 (Fig. 7; S5xxx in Fig. 11, S8xxx in Fig. 18), then key confirmation."""
    base = _FIGURE_STEPS.get(target.scheme, 3000)

    def step(n):
        name = "S%d" % (base + n)
        steps.append(name)
        return name

    s = step(2)
    cert_target = certificate(target, s, date, crl)
    cert_source = certificate(source, s, date, crl)
    when = uint(P.TAG_DATE, date, 4)
    s = step(4)
    got = target.link.command(s, P.INS_PK_UPDATE_PERMISSION, cert_source + when)
    obtain = cert_target + encode(P.TAG_UPDATE_RANDOM, got[P.TAG_UPDATE_RANDOM]) + when
    if len(obtain) > _COMMAND_DATA:
        raise SettlementError(s, "card %s's certificate is too long for one command"
                              % target.label)
    s = step(5)
    sealed = source.link.command(s, P.INS_PK_KEY_OBTAIN, obtain)
    s = step(6)
    done = target.link.command(s, P.INS_PK_KEY_UPDATE,
                               encode(P.TAG_CV_PUBLIC_KEY, sealed[P.TAG_CV_PUBLIC_KEY])
                               + encode(P.TAG_WRAPPED_KEY, sealed[P.TAG_WRAPPED_KEY])
                               + encode(P.TAG_CV_SIGNATURE, sealed[P.TAG_CV_SIGNATURE]))
    s = step(7)  # ours: the source checks the target's receipt (key confirmation)
    source.link.command(s, P.INS_PK_KEY_CONFIRM, encode(P.TAG_MAC, done[P.TAG_MAC]))
    target.transfer_key_id = int.from_bytes(bytes(done[P.TAG_TRANSFER_KEY_ID]), "big")
    target.update_key_id = int.from_bytes(bytes(done[P.TAG_UPDATE_KEY_ID]), "big")

/*
 * fault: plays how servers and the networks in front of them fail, at a
 * precise point of the protocol, the same way every time.
 *
 * A profile attaches rules to stages of a connection:
 *
 *     Fault STAGE ACTION [ARGS...] [when CONDITION...]
 *
 *     Fault accept close                       # FIN before any byte
 *     Fault accept exit                        # a process that exits: RST
 *     Fault client-kexinit close               # closed after the client's offer
 *     Fault newkeys corrupt                    # a middlebox that alters packets
 *     Fault accept send "Exceeded MaxStartups\r\n" when maxstartups 2:100:2
 *     Fault accept reset when probability 0.3 seed 7
 *
 * A hang-up plays its real cause: "close" a load balancer or proxy that
 * half-closes (FIN, then reads and drops what the client still sends);
 * "exit" a process that exits (or dies) with the client's bytes unread, so
 * the kernel answers with RST; "reset" a firewall or IPS that rejects with
 * RST; "drop" a firewall that silently drops the connection's packets
 * (nothing more either way: the client waits for its own timeout).
 *
 * Stages are points of the wire the tap sees (identifications, KEXINITs,
 * NEWKEYS) or of the session (authentication, channel). An action fires
 * once the client has been sent everything the server said up to that
 * point, and before anything after it: the relay holds the rest back.
 *
 * The conditions are decided once per connection, when it is accepted, so
 * that a seeded run replays exactly: "every N" counts connections,
 * "probability P seed S" draws from a generator seeded with S, and
 * "maxstartups start:rate:full" counts unauthenticated connections as
 * sshd's MaxStartups does.
 */
#ifndef SSHMOCK_FAULT_H
#define SSHMOCK_FAULT_H

#include <stddef.h>
#include <stdint.h>

#include "base/util.h"

/* At most this many Fault rules in a profile (a connection keeps one
 * fire/no-fire bit for each). */
#define FAULT_MAX_RULES 32

#define FAULT_STAGE_MAP(XX)                                                     \
    XX(ACCEPT, "accept", "on accept, before any byte is sent")                  \
    XX(SERVER_IDENT, "server-ident", "after the server's identification")       \
    XX(CLIENT_IDENT, "client-ident", "after the client's identification")       \
    XX(CLIENT_KEXINIT, "client-kexinit", "after the client's KEXINIT")          \
    XX(SERVER_KEXINIT, "server-kexinit", "after the server's KEXINIT")          \
    XX(NEWKEYS, "newkeys", "after the server's NEWKEYS (keys in use)")          \
    XX(AUTH_SUCCESS, "auth-success", "after authentication succeeds")           \
    XX(CHANNEL_OPEN, "channel-open", "after a channel opens")

typedef enum {
#define FAULT__STAGE_ENUM(e, name, help) FAULT_STAGE_##e,
    FAULT_STAGE_MAP(FAULT__STAGE_ENUM)
#undef FAULT__STAGE_ENUM
    FAULT_STAGE__COUNT
} fault_stage_t;

#define FAULT_ACTION_MAP(XX)                                                    \
    XX(CLOSE, "close", "", "close the connection (FIN): a load balancer")       \
    XX(RESET, "reset", "", "reset the connection (RST): a firewall or IPS")     \
    XX(EXIT, "exit", "", "the process exits: RST when the client spoke, else FIN") \
    XX(DROP, "drop", "", "a firewall drops it silently: nothing more, no end")  \
    XX(STALL, "stall", "[DURATION]", "send nothing more (then close)")          \
    XX(DELAY, "delay", "DURATION", "hold the server's bytes, then go on")       \
    XX(SEND, "send", "TEXT", "send raw bytes to the client (escapes allowed)")  \
    XX(CORRUPT, "corrupt", "[N]", "flip a byte in each of the next N chunks")   \
    XX(THROTTLE, "throttle", "BYTES_PER_SEC", "limit the server's bandwidth")   \
    XX(DISCONNECT, "disconnect", "REASON [TEXT]", "SSH_MSG_DISCONNECT, then close")

typedef enum {
#define FAULT__ACTION_ENUM(e, name, args, help) FAULT_ACTION_##e,
    FAULT_ACTION_MAP(FAULT__ACTION_ENUM)
#undef FAULT__ACTION_ENUM
    FAULT_ACTION__COUNT
} fault_action_t;

typedef enum {
    FAULT_WHEN_ALWAYS,
    FAULT_WHEN_EVERY,       /* every Nth connection (1-based: N, 2N, ...) */
    FAULT_WHEN_PROBABILITY, /* with probability P, seeded */
    FAULT_WHEN_MAXSTARTUPS  /* past start:rate:full unauthenticated connections */
} fault_when_t;

typedef struct fault_rule_s {
    fault_stage_t stage;
    fault_action_t action;
    uint64_t ms;          /* DELAY, STALL (0: stall forever) */
    char *data;           /* SEND bytes, DISCONNECT text */
    size_t data_len;
    uint32_t n;           /* CORRUPT count, THROTTLE rate, DISCONNECT reason */
    fault_when_t when;
    uint32_t every;
    double probability;
    uint64_t seed;
    int ms_start, ms_rate, ms_full;
    int line;
} fault_rule_t;

/* Parses the words after "Fault" (already split and unquoted; SEND and
 * DISCONNECT text escapes are decoded here). Returns 0, or -1 with a
 * message (without file:line) in err; either way the caller frees the
 * rule with fault_rule_free(). */
int fault_rule_parse(fault_rule_t *r, char **words, int nwords, char *err, size_t errlen);

/* Appends the rule as a profile line would write it (after "fault "). */
void fault_rule_format(const fault_rule_t *r, util_buf_t *out);

void fault_rule_free(fault_rule_t *r);

const char *fault_stage_name(fault_stage_t s);
const char *fault_action_name(fault_action_t a);

/* Decoding of "\r\n\t\\\"\xHH" escapes, shared with the profile parser's
 * users. Returns a malloc'd buffer and its length, or NULL. */
char *fault_unescape(const char *s, size_t *len);

/* sshd's MaxStartups decision for one new connection, given how many
 * unauthenticated connections there already are and a draw in [0,100). */
int fault_maxstartups_drop(int start, int rate, int full, size_t unauth, unsigned draw);

/* A small deterministic generator (splitmix64), so a seed replays. */
uint64_t fault_rng_next(uint64_t *state);

#endif /* SSHMOCK_FAULT_H */

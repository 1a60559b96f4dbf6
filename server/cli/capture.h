/*
 * capture: sshmock capture HOST[:PORT] [-o PROFILE]: a profile of a live
 * server's negotiation surface, learned as a client without credentials.
 */
#ifndef SSHMOCK_CAPTURE_H
#define SSHMOCK_CAPTURE_H

/* Exit status: 0 complete, 1 partial (written, marked), 2 usage, 3 nothing
 * learned (nothing written). */
int capture_main(int argc, char **argv);

#endif /* SSHMOCK_CAPTURE_H */

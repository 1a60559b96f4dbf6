/* The one table of error codes and messages (include/sshmock/sshmock.h). */
#include <sshmock/sshmock.h>

const char *
sshmock_strerror(int err)
{
    switch (err) {
    case SSHMOCK_OK: return "success";
#define SSHMOCK__ERR_MSG(name, code, msg) case SSHMOCK_##name: return msg;
    SSHMOCK_ERRNO_MAP(SSHMOCK__ERR_MSG)
#undef SSHMOCK__ERR_MSG
    }
    return "unknown error";
}

const char *
sshmock_err_name(int err)
{
    switch (err) {
    case SSHMOCK_OK: return "OK";
#define SSHMOCK__ERR_NAME(name, code, msg) case SSHMOCK_##name: return #name;
    SSHMOCK_ERRNO_MAP(SSHMOCK__ERR_NAME)
#undef SSHMOCK__ERR_NAME
    }
    return "UNKNOWN";
}

/*
 * Logging through Janus's own logger (log.c), so that plugin lines honour
 * Janus's debug_level and land where Janus logs; stderr before Janus's
 * symbols are found.
 */
#ifndef CJ_LOG_H
#define CJ_LOG_H

/* Janus's LOG_* levels. */
#define CJ_LOG_FATAL 1
#define CJ_LOG_ERR 2
#define CJ_LOG_WARN 3
#define CJ_LOG_INFO 4
#define CJ_LOG_VERB 5
#define CJ_LOG_HUGE 6
#define CJ_LOG_DBG 7

/* Looks Janus's logger up in the host process (create() does, first). */
void cj_log_bind(void);
int cj_log_enabled(int level);
void cj_log(int level, const char *msg);
void cj_logf(int level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#endif

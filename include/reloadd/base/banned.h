/*
 * banned.h - C library functions that reloadd's own code must not call
 *
 * Every .c file of src/ includes it as its last #include (scripts/lint.sh
 * checks that), so a call to one of these is a compile error, not a review
 * comment. It must come last: the system headers declare these names, and
 * a declaration after the poisoning would fail too.
 *
 *   strcpy strcat strncpy strncat   no bound, or a bound that truncates
 *                                   silently or leaves no NUL: strlcpy and
 *                                   strlcat (libbsd), or rl_buf (buf.h)
 *   sprintf vsprintf                no bound: snprintf, rl_buf_addf
 *   gets                            no bound at all
 *   strtok                          hidden state, not thread-safe: strtok_r
 *                                   or an explicit scan
 *   atoi atol atoll atof            no error report: strtol/strtoull/strtod
 *                                   with errno and end checks
 *   gmtime localtime ctime asctime  a shared static result: the _r forms
 *   strerror                        may write a shared buffer: rl_errno_str
 *   rand srand                      not random, shared state
 *   tmpnam tempnam mktemp           a race on the name: mkstemp
 *
 * Tests and tools may call them (they are not forced to include this).
 */
#ifndef RL_BANNED_H
#define RL_BANNED_H

#pragma GCC poison strcpy strcat strncpy strncat sprintf vsprintf gets strtok
#pragma GCC poison atoi atol atoll atof
#pragma GCC poison gmtime localtime ctime asctime strerror
#pragma GCC poison rand srand tmpnam tempnam mktemp

#endif

/*
 * msg_text.h - the one definition of message text for every reader in the
 * product: how a header line is classified, the correlation field and the
 * form of its id, and the limits a header block must keep.
 *
 * Every reader of message text (the engine's header list and spool, the
 * receiver, the delegate client, the shim's message and edit code) uses
 * these, so that a message one part of the product accepts is never
 * refused by another later (Postfix's is_header_buf() serving smtpd,
 * cleanup and milter8 is the model).
 *
 * Limits. A message whose header block goes past MSG_HEADER_MAX_FIELDS
 * fields or MSG_HEADER_MAX_BYTES bytes (names and values) is refused where
 * it comes in (552 5.3.4), before anything is delegated. Copies returned by
 * delegates may be larger by what a filter adds (its own fields, or a whole
 * new header when it repackages the message): MSG_COPY_MAX_FIELDS and
 * MSG_COPY_MAX_BYTES. MSG_BLOCK_MAX_BYTES bounds the raw text of a copy's
 * header block (line ends and separators included). There is no limit of
 * its own for one physical line: a long line counts against the block.
 *
 * All functions are pure (no allocation, no state) and thread-safe.
 */
#ifndef MD_MSG_TEXT_H
#define MD_MSG_TEXT_H

#include <stdbool.h>
#include <stddef.h>

#define MSG_ID_FIELD            "X-Delegate-Id"
#define MSG_ID_LEN              32      /* 128 random bits as lowercase hex */

#define MSG_HEADER_MAX_FIELDS   10000
#define MSG_HEADER_MAX_BYTES    (1024 * 1024)
#define MSG_COPY_MAX_FIELDS     (MSG_HEADER_MAX_FIELDS + 1000)
#define MSG_COPY_MAX_BYTES      (MSG_HEADER_MAX_BYTES + 256 * 1024)
#define MSG_BLOCK_MAX_BYTES     (MSG_COPY_MAX_BYTES + 4 * MSG_COPY_MAX_FIELDS + 2)

/* What a line of a header block is (RFC 5322 2.2, 3.6; obsolete WSP before the colon allowed). */
enum msg_line {
	MSG_LINE_FIELD,                 /* "Name: value": starts a field */
	MSG_LINE_CONTINUATION,          /* starts with SP or HTAB: folds the field before */
	MSG_LINE_SEPARATOR,             /* the empty line: the body follows */
	MSG_LINE_NOT_FIELD,             /* anything else: no header line at all */
};

/*
 * msg_classify - what LINE (LEN bytes, without its line end) is. For a
 * field, *NAME_LEN is the length of its name and *VALUE_AT where its value
 * starts (after the colon and the whitespace that follows it). NAME_LEN and
 * VALUE_AT may be NULL.
 */
enum msg_line msg_classify(const char *line, size_t len, size_t *name_len, size_t *value_at);

/*
 * msg_is_field - does LINE start a field called NAME (case-insensitive)?
 * *VALUE_AT as for msg_classify (may be NULL). With PARTIAL (LINE is only
 * the start of a longer line), a name followed by whitespace up to the end
 * of what is there counts too: the colon may be beyond it.
 */
bool msg_is_field(const char *line, size_t len, const char *name, bool partial, size_t *value_at);

/*
 * msg_parse_id - is VALUE (LEN bytes, surrounding whitespace and folds
 * allowed) an id of our form? Copies it, NUL-terminated, into ID.
 */
bool msg_parse_id(const char *value, size_t len, char id[MSG_ID_LEN + 1]);

#endif

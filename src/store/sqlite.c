/* SPDX-License-Identifier: MIT */
/* SQLite backend of the store: one file in WAL mode (or a shared-cache memory database for
 * tests), a fixed pool of connections each keeping its prepared statements, and versioned
 * migrations. Near-duplicate lookups are five indexed segment equalities and a popcount. */
#include "sqlite_internal.h"
#include "store/rows.h"
#include "gh/alloc.h"
#include "gh/phash.h"

#include <errno.h>
#include <pthread.h>
#include <sqlite3.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define SQ_BUSY_MS 5000 /* how long a writer waits for another before giving up */

/* Migration N (1-based) brings the schema from version N-1 to N. Append; never edit one that
 * has shipped. */
static const char *const sq_migrations[] = {
    /* 1: the tables of DESIGN.md "Storage". pHashes are stored as the signed 64-bit integer
     * with the same bits; seg0..seg4 are gh_phash_segments() of it. */
    "CREATE TABLE equipment ("
    " id INTEGER PRIMARY KEY,"
    " slug TEXT NOT NULL UNIQUE,"
    " name TEXT NOT NULL,"
    " category TEXT NOT NULL,"
    " muscle_groups TEXT NOT NULL," /* JSON array: primary then secondary muscles */
    " data TEXT NOT NULL,"          /* the catalogue entry as JSON */
    " created_at INTEGER NOT NULL,"
    " updated_at INTEGER NOT NULL);"
    "CREATE INDEX equipment_name_idx ON equipment(name);"
    "CREATE TABLE store_meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);"
    "CREATE TABLE equipment_cache ("
    " id INTEGER PRIMARY KEY,"
    " sha256 TEXT NOT NULL UNIQUE,"
    " phash INTEGER NOT NULL,"
    " seg0 INTEGER NOT NULL, seg1 INTEGER NOT NULL, seg2 INTEGER NOT NULL,"
    " seg3 INTEGER NOT NULL, seg4 INTEGER NOT NULL,"
    " answer TEXT NOT NULL,"
    " equipment_id INTEGER REFERENCES equipment(id) ON DELETE SET NULL,"
    " equipment_slug TEXT NOT NULL DEFAULT '',"
    " provider TEXT NOT NULL DEFAULT '',"
    " model TEXT NOT NULL DEFAULT '',"
    " created_at INTEGER NOT NULL,"
    " expires_at INTEGER NOT NULL,"
    " hits INTEGER NOT NULL DEFAULT 0,"
    " last_hit_at INTEGER NOT NULL DEFAULT 0);"
    "CREATE INDEX equipment_cache_seg0_idx ON equipment_cache(seg0);"
    "CREATE INDEX equipment_cache_seg1_idx ON equipment_cache(seg1);"
    "CREATE INDEX equipment_cache_seg2_idx ON equipment_cache(seg2);"
    "CREATE INDEX equipment_cache_seg3_idx ON equipment_cache(seg3);"
    "CREATE INDEX equipment_cache_seg4_idx ON equipment_cache(seg4);"
    "CREATE INDEX equipment_cache_expires_idx ON equipment_cache(expires_at);"
    "CREATE INDEX equipment_cache_equipment_idx ON equipment_cache(equipment_id);"
    "CREATE TABLE user_identifications ("
    " id INTEGER PRIMARY KEY AUTOINCREMENT,"
    " request_id TEXT NOT NULL,"
    " created_at INTEGER NOT NULL,"
    " sha256 TEXT NOT NULL,"
    " phash INTEGER NOT NULL,"
    " equipment_slug TEXT NOT NULL,"
    " equipment_id INTEGER REFERENCES equipment(id) ON DELETE SET NULL,"
    " confidence REAL NOT NULL,"
    " identified INTEGER NOT NULL,"
    " cached INTEGER NOT NULL,"
    " cache_layer TEXT NOT NULL,"
    " cache_distance INTEGER NOT NULL,"
    " provider TEXT NOT NULL,"
    " model TEXT NOT NULL,"
    " processing_ms REAL NOT NULL,"
    " prompt_tokens INTEGER NOT NULL,"
    " completion_tokens INTEGER NOT NULL);"
    "CREATE INDEX user_identifications_created_idx ON user_identifications(created_at);"
    "CREATE INDEX user_identifications_equipment_idx ON user_identifications(equipment_id);",
    /* 2: people's corrections. A corrected cache row is never overwritten by a provider's
     * answer; the feedback table keeps every correction, the identification the latest. */
    "ALTER TABLE equipment_cache ADD COLUMN corrected INTEGER NOT NULL DEFAULT 0;"
    "ALTER TABLE user_identifications ADD COLUMN corrected_slug TEXT NOT NULL DEFAULT '';"
    "CREATE INDEX user_identifications_request_idx ON user_identifications(request_id);"
    "CREATE TABLE identification_feedback ("
    " id INTEGER PRIMARY KEY AUTOINCREMENT,"
    " identification_id INTEGER NOT NULL REFERENCES user_identifications(id) ON DELETE CASCADE,"
    " slug TEXT NOT NULL,"
    " created_at INTEGER NOT NULL);"
    "CREATE INDEX identification_feedback_ident_idx ON identification_feedback(identification_id);",
    /* 3: visual memory (issue 14): a remembered photo's CLIP embedding as int8 (dim bytes, x ~
     * vec * scale), its label, where the label came from and the embedding model. Instances
     * read it in id order; created_at serves retention. */
    "CREATE TABLE visual_memory ("
    " id INTEGER PRIMARY KEY AUTOINCREMENT,"
    " created_at INTEGER NOT NULL,"
    " sha256 TEXT NOT NULL,"
    " slug TEXT NOT NULL,"
    " source TEXT NOT NULL,"
    " model TEXT NOT NULL,"
    " dim INTEGER NOT NULL,"
    " scale REAL NOT NULL,"
    " vec BLOB NOT NULL);"
    "CREATE INDEX visual_memory_model_idx ON visual_memory(model, id);"
    "CREATE INDEX visual_memory_created_idx ON visual_memory(created_at);",
    /* 4: accounts (issue 11). Users with an Argon2id hash; API keys and refresh tokens stored
     * as SHA-256 of the secret (they are random, so a slow hash adds nothing); each analysis
     * gets its owner (an identity key: "user:<id>" or "key:<id>", "" before accounts). */
    "CREATE TABLE users ("
    " id INTEGER PRIMARY KEY AUTOINCREMENT,"
    " username TEXT NOT NULL UNIQUE,"
    " password_hash TEXT NOT NULL,"
    " role TEXT NOT NULL,"
    " created_at INTEGER NOT NULL,"
    " disabled INTEGER NOT NULL DEFAULT 0);"
    "CREATE TABLE api_keys ("
    " id INTEGER PRIMARY KEY AUTOINCREMENT,"
    " user_id INTEGER NOT NULL DEFAULT 0,"
    " name TEXT NOT NULL,"
    " prefix TEXT NOT NULL,"
    " key_hash TEXT NOT NULL UNIQUE,"
    " scopes INTEGER NOT NULL,"
    " created_at INTEGER NOT NULL,"
    " revoked_at INTEGER NOT NULL DEFAULT 0);"
    "CREATE TABLE refresh_tokens ("
    " id INTEGER PRIMARY KEY AUTOINCREMENT,"
    " family TEXT NOT NULL,"
    " user_id INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,"
    " token_hash TEXT NOT NULL UNIQUE,"
    " created_at INTEGER NOT NULL,"
    " expires_at INTEGER NOT NULL,"
    " used_at INTEGER NOT NULL DEFAULT 0,"
    " revoked_at INTEGER NOT NULL DEFAULT 0);"
    "CREATE INDEX refresh_tokens_family_idx ON refresh_tokens(family);"
    "ALTER TABLE user_identifications ADD COLUMN owner TEXT NOT NULL DEFAULT '';"
    "CREATE INDEX user_identifications_owner_idx ON user_identifications(owner, id);",
    /* 5: measured escalation (issue 14): CLIP's own answer beside the paid model's, for
     * escalated photos and shadow samples; bucket is the confidence in steps of 0.05. The
     * sha256 index lets a correction of the photo serve as ground truth. */
    "CREATE TABLE quality_samples ("
    " id INTEGER PRIMARY KEY AUTOINCREMENT,"
    " created_at INTEGER NOT NULL,"
    " sha256 TEXT NOT NULL,"
    " clip_slug TEXT NOT NULL,"
    " clip_confidence REAL NOT NULL,"
    " bucket INTEGER NOT NULL,"
    " paid_slug TEXT NOT NULL,"
    " shadow INTEGER NOT NULL);"
    "CREATE INDEX quality_samples_created_idx ON quality_samples(created_at);"
    "CREATE INDEX user_identifications_sha256_idx ON user_identifications(sha256);",
    /* 6: corrections as votes (issue 11): one per owner and photo; a person's own answer until
     * a trusted person, a quorum or an admin makes it the shared one (status). */
    "CREATE TABLE corrections ("
    " id INTEGER PRIMARY KEY AUTOINCREMENT,"
    " identification_id INTEGER NOT NULL,"
    " sha256 TEXT NOT NULL,"
    " phash INTEGER NOT NULL,"
    " owner TEXT NOT NULL,"
    " slug TEXT NOT NULL,"
    " previous_slug TEXT NOT NULL,"
    " status TEXT NOT NULL,"
    " created_at INTEGER NOT NULL,"
    " decided_at INTEGER NOT NULL DEFAULT 0,"
    " UNIQUE (owner, sha256));"
    "CREATE INDEX corrections_photo_idx ON corrections(sha256, slug);"
    "CREATE INDEX corrections_status_idx ON corrections(status, id);",
    /* 7: workouts (issue 12): a person's gyms and their equipment, workouts and sets, each
     * under an owner key with the client's id unique per owner (replays find the row). Sets
     * keep the owner too, so that progress reads one index per owner and exercise. */
    "CREATE TABLE gyms ("
    " id INTEGER PRIMARY KEY AUTOINCREMENT,"
    " owner TEXT NOT NULL,"
    " client_id TEXT NOT NULL,"
    " name TEXT NOT NULL,"
    " created_at INTEGER NOT NULL,"
    " UNIQUE (owner, client_id));"
    "CREATE TABLE gym_equipment ("
    " gym_id INTEGER NOT NULL REFERENCES gyms(id) ON DELETE CASCADE,"
    " slug TEXT NOT NULL,"
    " PRIMARY KEY (gym_id, slug));"
    "CREATE TABLE workouts ("
    " id INTEGER PRIMARY KEY AUTOINCREMENT,"
    " owner TEXT NOT NULL,"
    " client_id TEXT NOT NULL,"
    " started_at INTEGER NOT NULL,"
    " ended_at INTEGER,"
    " gym_id INTEGER REFERENCES gyms(id) ON DELETE SET NULL,"
    " notes TEXT NOT NULL DEFAULT '',"
    " UNIQUE (owner, client_id));"
    "CREATE INDEX workouts_owner_started_idx ON workouts(owner, started_at, id);"
    "CREATE TABLE workout_sets ("
    " id INTEGER PRIMARY KEY AUTOINCREMENT,"
    " workout_id INTEGER NOT NULL REFERENCES workouts(id) ON DELETE CASCADE,"
    " owner TEXT NOT NULL,"
    " client_id TEXT NOT NULL,"
    " exercise TEXT NOT NULL,"
    " weight REAL,"
    " unit TEXT NOT NULL DEFAULT '',"
    " weight_kg REAL,"
    " reps INTEGER,"
    " duration_s INTEGER,"
    " distance_m REAL,"
    " rpe REAL,"
    " warmup INTEGER NOT NULL DEFAULT 0,"
    " performed_at INTEGER NOT NULL,"
    " records INTEGER NOT NULL DEFAULT 0,"
    " UNIQUE (owner, client_id));"
    "CREATE INDEX workout_sets_workout_idx ON workout_sets(workout_id, performed_at);"
    "CREATE INDEX workout_sets_exercise_idx ON workout_sets(owner, exercise, performed_at);"
    "CREATE INDEX workout_sets_time_idx ON workout_sets(owner, performed_at);",
    /* 8: plans and share links (issue 12): a plan is the generator's JSON as made; a share
     * link is kept only as the SHA-256 of its token, with what it shows. */
    "CREATE TABLE plans ("
    " id INTEGER PRIMARY KEY AUTOINCREMENT,"
    " owner TEXT NOT NULL,"
    " client_id TEXT,"
    " gym_id INTEGER,"
    " body TEXT NOT NULL,"
    " created_at INTEGER NOT NULL,"
    " UNIQUE (owner, client_id));"
    "CREATE INDEX plans_owner_idx ON plans(owner, id);"
    "CREATE TABLE shares ("
    " id INTEGER PRIMARY KEY AUTOINCREMENT,"
    " token_hash TEXT NOT NULL UNIQUE,"
    " owner TEXT NOT NULL,"
    " kind TEXT NOT NULL,"
    " object_id INTEGER NOT NULL,"
    " created_at INTEGER NOT NULL);"
    "CREATE INDEX shares_owner_idx ON shares(owner, id);",
    /* 9: signing out everywhere, a password change and disabling an account revoke all of a
     * user's refresh tokens by user_id; without an index each scanned the whole table (and so
     * did the cascade of a deleted user). */
    "CREATE INDEX refresh_tokens_user_idx ON refresh_tokens(user_id);",
};

#define SQ_SCHEMA_VERSION ((int)(sizeof sq_migrations / sizeof sq_migrations[0]))

/* The columns SQ_STMT_HIT returns, in the order sq_read_entry expects. */
#define SQ_ENTRY_COLS                                                                              \
    "sha256, phash, answer, equipment_slug, provider, model, created_at, expires_at, hits, "       \
    "last_hit_at, corrected"

/* "+expires_at" keeps the planner from answering the near query with a range scan of the
 * expiry index (nearly every row is live): the segment equalities must drive it, as a
 * MULTI-INDEX OR of the five segment indexes. */
#define SQ_NEAR_SQL                                                                                \
    "SELECT id, phash, created_at FROM equipment_cache"                                            \
    " WHERE (seg0 = ?1 OR seg1 = ?2 OR seg2 = ?3 OR seg3 = ?4 OR seg4 = ?5)"                       \
    " AND +expires_at > ?6"

static const char *const sq_sql[SQ_N_STMT] = {
    [SQ_STMT_SCHEMA_VERSION] = "SELECT coalesce(max(version), 0) FROM schema_migrations",
    /* Rows are only rewritten when something changed, so updated_at means a real change. */
    [SQ_STMT_UPSERT_EQUIPMENT] =
        "INSERT INTO equipment (slug, name, category, muscle_groups, data, created_at,"
        " updated_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?6)"
        " ON CONFLICT(slug) DO UPDATE SET name = excluded.name, category = excluded.category,"
        " muscle_groups = excluded.muscle_groups, data = excluded.data,"
        " updated_at = excluded.updated_at"
        " WHERE name IS NOT excluded.name OR category IS NOT excluded.category"
        " OR muscle_groups IS NOT excluded.muscle_groups OR data IS NOT excluded.data",
    [SQ_STMT_SET_META] = "INSERT INTO store_meta (key, value) VALUES (?1, ?2)"
                         " ON CONFLICT(key) DO UPDATE SET value = excluded.value",
    [SQ_STMT_GET_META] = "SELECT value FROM store_meta WHERE key = ?1",
    [SQ_STMT_FIND_EXACT] = "SELECT id FROM equipment_cache WHERE sha256 = ?1 AND expires_at > ?2",
    [SQ_STMT_FIND_NEAR] = SQ_NEAR_SQL,
    /* expires_at is checked again: the row may have changed since it was found. Hits are
     * counted in memory and written in batches (store_hits.c): a hit is read-only here. */
    [SQ_STMT_HIT] = "SELECT " SQ_ENTRY_COLS " FROM equipment_cache"
                    " WHERE id = ?1 AND expires_at > ?2",
    /* An upsert rather than INSERT OR REPLACE keeps the row id, so nothing pointing at it
     * breaks. */
    [SQ_STMT_PUT] =
        "INSERT INTO equipment_cache (sha256, phash, seg0, seg1, seg2, seg3, seg4, answer,"
        " equipment_id, equipment_slug, provider, model, created_at, expires_at, hits,"
        " last_hit_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8,"
        " (SELECT id FROM equipment WHERE slug = ?9), ?9, ?10, ?11, ?12, ?13, ?14, ?15)"
        " ON CONFLICT(sha256) DO UPDATE SET phash = excluded.phash, seg0 = excluded.seg0,"
        " seg1 = excluded.seg1, seg2 = excluded.seg2, seg3 = excluded.seg3,"
        " seg4 = excluded.seg4, answer = excluded.answer, equipment_id = excluded.equipment_id,"
        " equipment_slug = excluded.equipment_slug, provider = excluded.provider,"
        " model = excluded.model, created_at = excluded.created_at,"
        " expires_at = excluded.expires_at, hits = excluded.hits,"
        " last_hit_at = excluded.last_hit_at"
        " WHERE equipment_cache.corrected = 0", /* a person's correction stays */
    [SQ_STMT_RECORD] =
        "INSERT INTO user_identifications (request_id, created_at, sha256, phash,"
        " equipment_slug, equipment_id, confidence, identified, cached, cache_layer,"
        " cache_distance, provider, model, processing_ms, prompt_tokens, completion_tokens,"
        " owner) VALUES (?1, ?2, ?3, ?4, ?5, (SELECT id FROM equipment WHERE slug = ?5), ?6,"
        " ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16) RETURNING id",
    [SQ_STMT_CACHE_STATS] =
        "SELECT count(*), coalesce(sum(expires_at > ?1), 0), coalesce(sum(hits), 0),"
        " coalesce(min(created_at), 0), coalesce(max(created_at), 0) FROM equipment_cache",
    [SQ_STMT_IDENT_STATS] =
        "SELECT count(*), coalesce(sum(prompt_tokens), 0), coalesce(sum(completion_tokens), 0),"
        " coalesce(sum(cached = 0), 0) FROM user_identifications",
    [SQ_STMT_EQUIPMENT_COUNT] = "SELECT count(*) FROM equipment",
    [SQ_STMT_PURGE] = "DELETE FROM equipment_cache WHERE expires_at <= ?1",
    [SQ_STMT_EQUIPMENT_NAME] = "SELECT name FROM equipment WHERE slug = ?1",
    [SQ_STMT_IDENT_LIST] = "SELECT " SQ_IDENT_COLS " FROM user_identifications WHERE id < ?1"
                           " ORDER BY id DESC LIMIT ?2",
    [SQ_STMT_IDENT_GET] = "SELECT " SQ_IDENT_COLS " FROM user_identifications WHERE id = ?1",
    [SQ_STMT_IDENT_BY_REQUEST] = "SELECT " SQ_IDENT_COLS " FROM user_identifications"
                                 " WHERE request_id = ?1 AND (?2 IS NULL OR owner = ?2)"
                                 " ORDER BY id DESC LIMIT 1",
    [SQ_STMT_FEEDBACK_INSERT] = "INSERT INTO identification_feedback (identification_id, slug,"
                                " created_at) VALUES (?1, ?2, ?3)",
    [SQ_STMT_IDENT_CORRECT] = "UPDATE user_identifications SET corrected_slug = ?2 WHERE id = ?1",
    /* The corrected answer replaces whatever the cache held for the image, and lives at least
     * as long as the answer it replaces. */
    [SQ_STMT_CACHE_CORRECT] =
        "INSERT INTO equipment_cache (sha256, phash, seg0, seg1, seg2, seg3, seg4, answer,"
        " equipment_id, equipment_slug, provider, model, created_at, expires_at, hits,"
        " last_hit_at, corrected) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8,"
        " (SELECT id FROM equipment WHERE slug = ?9), ?9, ?10, ?11, ?12, ?13, 0, 0, 1)"
        " ON CONFLICT(sha256) DO UPDATE SET answer = excluded.answer,"
        " equipment_id = excluded.equipment_id, equipment_slug = excluded.equipment_slug,"
        " corrected = 1, expires_at = max(equipment_cache.expires_at, excluded.expires_at)",
};

struct sq_store *gh_sq_of(struct gh_store *st)
{
    return st->be;
}

static void sq_sleep_ms(long ms)
{
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};

    nanosleep(&ts, NULL);
}

/* Connections to a shared-cache memory database conflict at table level with SQLITE_LOCKED,
 * which the busy handler does not cover (https://sqlite.org/sharedcache.html section 2.1);
 * wait and retry for as long as busy_timeout would. File databases never see it. */
int gh_sq_step(sqlite3_stmt *s)
{
    int rc;

    for (int waited = 0;; waited++) {
        rc = sqlite3_step(s);
        if ((rc & 0xff) != SQLITE_LOCKED || waited >= SQ_BUSY_MS)
            return rc;
        sqlite3_reset(s);
        sq_sleep_ms(1);
    }
}

int gh_sq_exec(sqlite3 *db, const char *sql)
{
    int rc;

    for (int waited = 0;; waited++) {
        rc = sqlite3_exec(db, sql, NULL, NULL, NULL);
        if ((rc & 0xff) != SQLITE_LOCKED || waited >= SQ_BUSY_MS)
            return rc;
        sq_sleep_ms(1);
    }
}

int gh_sq_fail(struct gh_err *err, sqlite3 *db, const char *what)
{
    return gh_err_set(err, GH_EBACKEND, "sqlite: cannot %s: %s", what, sqlite3_errmsg(db));
}

/* Ends a transaction that failed; the failure has been reported already. */
static void sq_rollback(sqlite3 *db)
{
    if (!sqlite3_get_autocommit(db))
        gh_sq_exec(db, "ROLLBACK");
}

int gh_sq_end(struct sq_conn *c, int rc, const char *what, struct gh_err *err)
{
    if (rc == GH_OK && gh_sq_exec(c->db, "COMMIT") != SQLITE_OK)
        rc = gh_sq_fail(err, c->db, what);
    if (rc)
        sq_rollback(c->db);
    return rc;
}

int gh_sq_stmt(struct sq_conn *c, enum sq_stmt_id id, sqlite3_stmt **out, struct gh_err *err)
{
    int rc = SQLITE_OK;

    if (!c->stmt[id]) {
        for (int waited = 0;; waited++) {
            rc = sqlite3_prepare_v3(c->db, sq_sql[id], -1, SQLITE_PREPARE_PERSISTENT, &c->stmt[id],
                                    NULL);
            if ((rc & 0xff) != SQLITE_LOCKED || waited >= SQ_BUSY_MS)
                break;
            sq_sleep_ms(1);
        }
        if (rc != SQLITE_OK)
            return gh_sq_fail(err, c->db, "prepare a statement");
    }
    *out = c->stmt[id];
    return GH_OK;
}

/* Makes a cached statement ready for its next use; drops the borrowed text it was bound to. */
void gh_sq_done(sqlite3_stmt *s)
{
    if (!s)
        return;
    sqlite3_reset(s);
    sqlite3_clear_bindings(s);
}

sqlite3_int64 gh_sq_i64(uint64_t v)
{
    sqlite3_int64 r;

    memcpy(&r, &v, sizeof r); /* same bits; SQLite has no unsigned 64-bit integer */
    return r;
}

uint64_t gh_sq_u64(sqlite3_int64 v)
{
    uint64_t r;

    memcpy(&r, &v, sizeof r);
    return r;
}

int gh_sq_bind_text(sqlite3_stmt *s, int i, const char *text)
{
    return sqlite3_bind_text(s, i, text, -1, SQLITE_STATIC);
}

void gh_sq_copy_text(char *dst, size_t cap, sqlite3_stmt *s, int col)
{
    const unsigned char *t = sqlite3_column_text(s, col);

    snprintf(dst, cap, "%s", t ? (const char *)t : "");
}

/* ---- the pool ---- */

struct sq_conn *gh_sq_acquire(struct sq_store *s)
{
    struct sq_conn *c;

    pthread_mutex_lock(&s->mu);
    while (s->n_idle == 0)
        pthread_cond_wait(&s->cond, &s->mu);
    c = &s->conns[s->idle[--s->n_idle]];
    pthread_mutex_unlock(&s->mu);
    return c;
}

void gh_sq_release(struct sq_store *s, struct sq_conn *c)
{
    pthread_mutex_lock(&s->mu);
    s->idle[s->n_idle++] = (int)(c - s->conns);
    pthread_cond_signal(&s->cond);
    pthread_mutex_unlock(&s->mu);
}

/* ---- opening ---- */

/* mkdir -p of the directory part of path. */
static int sq_make_parent(const char *path, struct gh_err *err)
{
    size_t len = strlen(path);
    char *dir = gh_malloc(len + 1);
    int rc = GH_OK;

    if (!dir)
        return gh_err_set(err, GH_ENOMEM, "out of memory opening %s", path);
    memcpy(dir, path, len + 1);
    for (size_t i = 1; i < len; i++) {
        if (dir[i] != '/')
            continue;
        dir[i] = '\0';
        if (mkdir(dir, 0755) != 0 && errno != EEXIST) {
            rc = gh_err_set(err, GH_EBACKEND, "sqlite: cannot create directory %s for %s: %s", dir,
                            path, strerror(errno));
            goto out;
        }
        dir[i] = '/';
    }
out:
    gh_free(dir);
    return rc;
}

/* Names of memory databases are process-wide in SQLite's shared cache; each store gets one. */
static char *sq_memory_name(void)
{
    static atomic_uint counter;
    char buf[96];

    snprintf(buf, sizeof buf, "file:gh_mem_%ld_%u?mode=memory&cache=shared", (long)getpid(),
             atomic_fetch_add(&counter, 1));
    return gh_store_strdup(buf);
}

static int sq_conn_open(struct sq_store *s, struct sq_conn *c, struct gh_err *err)
{
    int flags = SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX;
    int rc;

    if (s->memory)
        flags |= SQLITE_OPEN_URI;
    rc = sqlite3_open_v2(s->name, &c->db, flags, NULL);
    if (rc != SQLITE_OK)
        return gh_err_set(err, GH_EBACKEND, "sqlite: cannot open %s: %s", s->label,
                          c->db ? sqlite3_errmsg(c->db) : sqlite3_errstr(rc));
    sqlite3_extended_result_codes(c->db, 1);
    sqlite3_busy_timeout(c->db, SQ_BUSY_MS);
    /* The first statement that reads the file: where a file of another kind shows. WAL lets
     * readers go on while one connection writes; memory databases have no WAL. */
    if (!s->memory) {
        rc = gh_sq_exec(c->db, "PRAGMA journal_mode = WAL");
        if ((rc & 0xff) == SQLITE_NOTADB)
            return gh_err_set(err, GH_EBACKEND, "sqlite: %s is not a gymhelper database: %s",
                              s->label, sqlite3_errmsg(c->db));
        if (rc != SQLITE_OK)
            return gh_err_set(err, GH_EBACKEND, "sqlite: cannot open %s: %s", s->label,
                              sqlite3_errmsg(c->db));
    }
    /* NORMAL is durable across application crashes in WAL mode; only power loss may lose the
     * last commits, which for a cache costs a provider call at most. */
    rc = gh_sq_exec(c->db, "PRAGMA foreign_keys = ON; PRAGMA synchronous = NORMAL");
    if (rc != SQLITE_OK)
        return gh_err_set(err, GH_EBACKEND, "sqlite: cannot configure %s: %s", s->label,
                          sqlite3_errmsg(c->db));
    return GH_OK;
}

static void sq_conn_close(struct sq_conn *c)
{
    for (int i = 0; i < SQ_N_STMT; i++)
        sqlite3_finalize(c->stmt[i]);
    /* The last connection to close checkpoints the WAL into the database and removes it. */
    sqlite3_close_v2(c->db);
    memset(c, 0, sizeof *c);
}

/* One-shot query of a single integer. */
static int sq_query_int(sqlite3 *db, const char *sql, int bind, sqlite3_int64 *out)
{
    sqlite3_stmt *s = NULL;
    int rc = sqlite3_prepare_v2(db, sql, -1, &s, NULL);

    if (rc == SQLITE_OK && bind >= 0)
        rc = sqlite3_bind_int(s, 1, bind);
    if (rc == SQLITE_OK) {
        rc = gh_sq_step(s);
        *out = rc == SQLITE_ROW ? sqlite3_column_int64(s, 0) : 0;
        if (rc == SQLITE_ROW || rc == SQLITE_DONE)
            rc = SQLITE_OK;
    }
    sqlite3_finalize(s);
    return rc;
}

/* Applies migration `version` unless it is there already. The check runs inside the write
 * transaction, so two processes opening a new file at once cannot both apply it. */
static int sq_migrate_one(struct sq_store *s, sqlite3 *db, int version, struct gh_err *err)
{
    sqlite3_int64 applied = 0;
    char insert[128];
    int rc;

    rc = gh_sq_exec(db, "BEGIN IMMEDIATE");
    if (rc == SQLITE_OK)
        rc = sq_query_int(db, "SELECT count(*) FROM schema_migrations WHERE version = ?1", version,
                          &applied);
    if (rc == SQLITE_OK && !applied) {
        rc = gh_sq_exec(db, sq_migrations[version - 1]);
        snprintf(insert, sizeof insert,
                 "INSERT INTO schema_migrations (version, applied_at) VALUES (%d, %lld)", version,
                 (long long)time(NULL));
        if (rc == SQLITE_OK)
            rc = gh_sq_exec(db, insert);
    }
    if (rc == SQLITE_OK)
        rc = gh_sq_exec(db, "COMMIT");
    if (rc != SQLITE_OK) {
        rc = gh_err_set(err, GH_EBACKEND, "sqlite: cannot migrate %s to schema version %d: %s",
                        s->label, version, sqlite3_errmsg(db));
        sq_rollback(db);
    }
    return rc;
}

static int sq_migrate(struct sq_store *s, sqlite3 *db, struct gh_err *err)
{
    sqlite3_int64 current = 0;
    int rc;

    rc = gh_sq_exec(db, "CREATE TABLE IF NOT EXISTS schema_migrations ("
                        "version INTEGER PRIMARY KEY, applied_at INTEGER NOT NULL)");
    if (rc == SQLITE_OK)
        rc = sq_query_int(db, sq_sql[SQ_STMT_SCHEMA_VERSION], -1, &current);
    if (rc != SQLITE_OK)
        return gh_err_set(err, GH_EBACKEND, "sqlite: cannot read the schema version of %s: %s",
                          s->label, sqlite3_errmsg(db));
    /* Running old code on a newer schema would misread it. */
    if (current > SQ_SCHEMA_VERSION)
        return gh_err_set(err, GH_EBACKEND,
                          "sqlite: %s has schema version %lld, newer than this build's %d",
                          s->label, (long long)current, SQ_SCHEMA_VERSION);
    for (int v = (int)current + 1; v <= SQ_SCHEMA_VERSION; v++) {
        rc = sq_migrate_one(s, db, v, err);
        if (rc)
            return rc;
    }
    return GH_OK;
}

static void sq_free(struct sq_store *s)
{
    if (!s)
        return;
    for (int i = 0; s->conns && i < s->n_conns; i++)
        sq_conn_close(&s->conns[i]);
    if (s->sync_ready) {
        pthread_cond_destroy(&s->cond);
        pthread_mutex_destroy(&s->mu);
    }
    gh_free(s->conns);
    gh_free(s->idle);
    gh_free(s->name);
    gh_free(s->label);
    gh_free(s);
}

static int sq_alloc(const char *target, int pool_size, struct sq_store **out, struct gh_err *err)
{
    struct sq_store *s = gh_malloc(sizeof *s);
    int rc = GH_OK;

    *out = NULL;
    if (!s)
        return gh_err_set(err, GH_ENOMEM, "out of memory opening the sqlite store");
    memset(s, 0, sizeof *s);
    s->memory = strcmp(target, ":memory:") == 0;
    s->label = gh_store_strdup(s->memory ? "sqlite::memory:" : target);
    s->name = s->memory ? sq_memory_name() : gh_store_strdup(target);
    s->conns = gh_malloc_array((size_t)pool_size, sizeof *s->conns);
    s->idle = gh_malloc_array((size_t)pool_size, sizeof *s->idle);
    if (!s->label || !s->name || !s->conns || !s->idle) {
        rc = gh_err_set(err, GH_ENOMEM, "out of memory opening the sqlite store");
        goto out;
    }
    memset(s->conns, 0, (size_t)pool_size * sizeof *s->conns);
    if (pthread_mutex_init(&s->mu, NULL) != 0) {
        rc = gh_err_set(err, GH_EBACKEND, "sqlite: cannot create the pool's mutex");
        goto out;
    }
    if (pthread_cond_init(&s->cond, NULL) != 0) {
        pthread_mutex_destroy(&s->mu);
        rc = gh_err_set(err, GH_EBACKEND, "sqlite: cannot create the pool's condition");
        goto out;
    }
    s->sync_ready = 1;
    *out = s;
    s = NULL;
out:
    sq_free(s);
    return rc;
}

static int sq_open(struct gh_store *st, const char *target, const struct gh_store_options *opts,
                   struct gh_err *err)
{
    int pool_size = opts->pool_size; /* a fixed pool: the other settings are PostgreSQL's */
    struct sq_store *s = NULL;
    int rc;

    rc = sq_alloc(target, pool_size, &s, err);
    if (rc)
        return rc;
    if (!s->memory) {
        rc = sq_make_parent(s->name, err);
        if (rc)
            goto out;
    }
    /* One connection migrates before the others open, so they never see a half-made schema. */
    for (int i = 0; i < pool_size; i++) {
        s->n_conns = i + 1; /* counted before opening: a failed open still needs closing */
        rc = sq_conn_open(s, &s->conns[i], err);
        if (rc == GH_OK && i == 0)
            rc = sq_migrate(s, s->conns[0].db, err);
        if (rc)
            goto out;
        s->idle[s->n_idle++] = i;
    }
    st->be = s;
    s = NULL;
out:
    sq_free(s);
    return rc;
}

static void sq_close(struct gh_store *st)
{
    sq_free(gh_sq_of(st));
    st->be = NULL;
}

/* ---- operations ---- */

static int sq_schema_version(struct gh_store *st, int *out, struct gh_err *err)
{
    struct sq_store *s = gh_sq_of(st);
    struct sq_conn *c = gh_sq_acquire(s);
    sqlite3_stmt *q = NULL;
    int rc;

    rc = gh_sq_stmt(c, SQ_STMT_SCHEMA_VERSION, &q, err);
    if (rc)
        goto out;
    if (gh_sq_step(q) != SQLITE_ROW) {
        rc = gh_sq_fail(err, c->db, "read the schema version");
        goto out;
    }
    *out = sqlite3_column_int(q, 0);
out:
    gh_sq_done(q);
    gh_sq_release(s, c);
    return rc;
}

static int sq_upsert_equipment(struct sq_conn *c, const struct gh_equipment *e, int64_t now,
                               struct gh_err *err)
{
    sqlite3_stmt *q = NULL;
    char *muscles = NULL;
    int rc;

    rc = gh_store_muscles_json(e, &muscles, err);
    if (rc == GH_OK)
        rc = gh_sq_stmt(c, SQ_STMT_UPSERT_EQUIPMENT, &q, err);
    if (rc)
        goto out;
    if (gh_sq_bind_text(q, 1, e->slug) || gh_sq_bind_text(q, 2, e->name) ||
        gh_sq_bind_text(q, 3, e->category) || gh_sq_bind_text(q, 4, muscles) ||
        gh_sq_bind_text(q, 5, e->json) || sqlite3_bind_int64(q, 6, now) ||
        gh_sq_step(q) != SQLITE_DONE)
        rc = gh_err_set(err, GH_EBACKEND, "sqlite: cannot store equipment %s: %s", e->slug,
                        sqlite3_errmsg(c->db));
out:
    gh_sq_done(q);
    gh_free(muscles);
    return rc;
}

static int sq_set_meta(struct sq_conn *c, const char *key, const char *value, struct gh_err *err)
{
    sqlite3_stmt *q = NULL;
    int rc;

    rc = gh_sq_stmt(c, SQ_STMT_SET_META, &q, err);
    if (rc)
        return rc;
    if (gh_sq_bind_text(q, 1, key) || gh_sq_bind_text(q, 2, value) || gh_sq_step(q) != SQLITE_DONE)
        rc = gh_sq_fail(err, c->db, "record the catalogue version");
    gh_sq_done(q);
    return rc;
}

static int sq_sync_catalogue(struct gh_store *st, const struct gh_catalogue *cat,
                             struct gh_err *err)
{
    struct sq_store *s = gh_sq_of(st);
    struct sq_conn *c = gh_sq_acquire(s);
    size_t n = gh_catalogue_count(cat);
    int64_t now = (int64_t)time(NULL); /* the interface gives no clock here */
    int rc = GH_OK;

    /* IMMEDIATE takes the write lock up front: a deferred transaction that upgrades later can
     * fail at once with SQLITE_BUSY instead of waiting. */
    if (gh_sq_exec(c->db, "BEGIN IMMEDIATE") != SQLITE_OK) {
        rc = gh_sq_fail(err, c->db, "begin the catalogue sync");
        goto out;
    }
    for (size_t i = 0; i < n && rc == GH_OK; i++)
        rc = sq_upsert_equipment(c, gh_catalogue_at(cat, i), now, err);
    if (rc == GH_OK)
        rc = sq_set_meta(c, "catalogue_version", gh_catalogue_version(cat), err);
    rc = gh_sq_end(c, rc, "commit the catalogue sync", err);
out:
    gh_sq_release(s, c);
    return rc;
}

static int sq_read_entry(sqlite3_stmt *q, struct gh_cache_entry *out, struct gh_err *err)
{
    const unsigned char *answer = sqlite3_column_text(q, 2);
    size_t len = (size_t)sqlite3_column_bytes(q, 2);

    out->answer_json = gh_malloc(len + 1);
    if (!out->answer_json)
        return gh_err_set(err, GH_ENOMEM, "out of memory reading a cache entry");
    if (len)
        memcpy(out->answer_json, answer, len);
    out->answer_json[len] = '\0';
    gh_sq_copy_text(out->sha256, sizeof out->sha256, q, 0);
    out->phash = gh_sq_u64(sqlite3_column_int64(q, 1));
    gh_sq_copy_text(out->equipment_slug, sizeof out->equipment_slug, q, 3);
    gh_sq_copy_text(out->provider, sizeof out->provider, q, 4);
    gh_sq_copy_text(out->model, sizeof out->model, q, 5);
    out->created_at = sqlite3_column_int64(q, 6);
    out->expires_at = sqlite3_column_int64(q, 7);
    out->hits = sqlite3_column_int64(q, 8);
    out->last_hit_at = sqlite3_column_int64(q, 9);
    out->corrected = sqlite3_column_int(q, 10);
    return GH_OK;
}

/* Reads row id for a hit (store.c counts it). GH_ENOTFOUND when the row expired or went away
 * since it was found. */
static int sq_hit(struct sq_conn *c, sqlite3_int64 id, int64_t now, struct gh_cache_entry *out,
                  struct gh_err *err)
{
    sqlite3_stmt *q = NULL;
    int rc, step;

    rc = gh_sq_stmt(c, SQ_STMT_HIT, &q, err);
    if (rc)
        return rc;
    if (sqlite3_bind_int64(q, 1, id) || sqlite3_bind_int64(q, 2, now)) {
        rc = gh_sq_fail(err, c->db, "read a cache hit");
        goto out;
    }
    step = gh_sq_step(q);
    if (step == SQLITE_DONE) {
        rc = gh_err_set(err, GH_ENOTFOUND, "the cache entry expired while being read");
        goto out;
    }
    if (step != SQLITE_ROW) {
        rc = gh_sq_fail(err, c->db, "read a cache hit");
        goto out;
    }
    rc = sq_read_entry(q, out, err);
out:
    if (rc)
        gh_cache_entry_fini(out);
    gh_sq_done(q);
    return rc;
}

static int sq_get_exact(struct gh_store *st, const char *sha256_hex, int64_t now,
                        struct gh_cache_entry *out, struct gh_err *err)
{
    struct sq_store *s = gh_sq_of(st);
    struct sq_conn *c = gh_sq_acquire(s);
    sqlite3_stmt *q = NULL;
    sqlite3_int64 id = 0;
    int rc, step;

    /* Lookups are read-only (hits are counted in memory, written in batches), so they never
     * queue behind the writer. */
    rc = gh_sq_stmt(c, SQ_STMT_FIND_EXACT, &q, err);
    if (rc)
        goto out;
    if (gh_sq_bind_text(q, 1, sha256_hex) || sqlite3_bind_int64(q, 2, now)) {
        rc = gh_sq_fail(err, c->db, "look up a cache entry");
        goto out;
    }
    step = gh_sq_step(q);
    if (step == SQLITE_ROW)
        id = sqlite3_column_int64(q, 0);
    else if (step == SQLITE_DONE)
        rc = gh_err_set(err, GH_ENOTFOUND, "no live cache entry for that key");
    else
        rc = gh_sq_fail(err, c->db, "look up a cache entry");
    gh_sq_done(q);
    if (rc == GH_OK)
        rc = sq_hit(c, id, now, out, err);
out:
    gh_sq_release(s, c);
    return rc;
}

struct sq_near_best {
    sqlite3_int64 id; /* 0: none yet */
    int distance;
    int64_t created_at;
};

/* Nearest first, then the newest; equal times go to the later insert. */
static void sq_near_consider(struct sq_near_best *b, sqlite3_int64 id, int d, int64_t created)
{
    if (b->id != 0) {
        if (d > b->distance)
            return;
        if (d == b->distance &&
            (created < b->created_at || (created == b->created_at && id < b->id)))
            return;
    }
    b->id = id;
    b->distance = d;
    b->created_at = created;
}

static int sq_get_near(struct gh_store *st, uint64_t phash, int max_distance, int64_t now,
                       struct gh_cache_entry *out, int *distance, struct gh_err *err)
{
    struct sq_store *s = gh_sq_of(st);
    struct sq_conn *c = gh_sq_acquire(s);
    struct sq_near_best best = {0, 0, 0};
    sqlite3_stmt *q = NULL;
    uint32_t seg[5];
    int rc, step, bad = 0;

    rc = gh_sq_stmt(c, SQ_STMT_FIND_NEAR, &q, err);
    if (rc)
        goto out;
    gh_phash_segments(phash, seg);
    for (int i = 0; i < 5; i++)
        bad |= sqlite3_bind_int64(q, i + 1, seg[i]);
    bad |= sqlite3_bind_int64(q, 6, now);
    if (bad) {
        rc = gh_sq_fail(err, c->db, "search near-duplicate cache entries");
        goto out;
    }
    /* Candidates share a segment with phash; the distance decides. */
    while ((step = gh_sq_step(q)) == SQLITE_ROW) {
        int d = gh_phash_distance(phash, gh_sq_u64(sqlite3_column_int64(q, 1)));

        if (d <= max_distance)
            sq_near_consider(&best, sqlite3_column_int64(q, 0), d, sqlite3_column_int64(q, 2));
    }
    if (step != SQLITE_DONE)
        rc = gh_sq_fail(err, c->db, "search near-duplicate cache entries");
    else if (best.id == 0)
        rc = gh_err_set(err, GH_ENOTFOUND, "no live cache entry within distance %d", max_distance);
    gh_sq_done(q);
    q = NULL;
    if (rc == GH_OK)
        rc = sq_hit(c, best.id, now, out, err);
    if (rc == GH_OK)
        *distance = best.distance;
out:
    gh_sq_done(q);
    gh_sq_release(s, c);
    return rc;
}

/* Parameters 1..13 of SQ_STMT_PUT and SQ_STMT_CACHE_CORRECT, which list the entry's columns
 * in the same order. Non-zero when a bind failed. */
int gh_sq_bind_entry(sqlite3_stmt *q, const struct gh_cache_entry *e)
{
    uint32_t seg[5];
    int bad = 0;

    gh_phash_segments(e->phash, seg);
    bad |= gh_sq_bind_text(q, 1, e->sha256);
    bad |= sqlite3_bind_int64(q, 2, gh_sq_i64(e->phash));
    for (int i = 0; i < 5; i++)
        bad |= sqlite3_bind_int64(q, 3 + i, seg[i]);
    bad |= gh_sq_bind_text(q, 8, e->answer_json);
    bad |= gh_sq_bind_text(q, 9, e->equipment_slug);
    bad |= gh_sq_bind_text(q, 10, e->provider);
    bad |= gh_sq_bind_text(q, 11, e->model);
    bad |= sqlite3_bind_int64(q, 12, e->created_at);
    bad |= sqlite3_bind_int64(q, 13, e->expires_at);
    return bad;
}

static int sq_put(struct gh_store *st, const struct gh_cache_entry *e, struct gh_err *err)
{
    struct sq_store *s = gh_sq_of(st);
    struct sq_conn *c = gh_sq_acquire(s);
    sqlite3_stmt *q = NULL;
    int rc, bad = 0;

    rc = gh_sq_stmt(c, SQ_STMT_PUT, &q, err);
    if (rc)
        goto out;
    bad |= gh_sq_bind_entry(q, e);
    bad |= sqlite3_bind_int64(q, 14, e->hits);
    bad |= sqlite3_bind_int64(q, 15, e->last_hit_at);
    if (bad || gh_sq_step(q) != SQLITE_DONE)
        rc = gh_sq_fail(err, c->db, "store a cache entry");
    else if (sqlite3_changes(c->db) == 0) /* the upsert's WHERE kept a corrected row */
        rc = gh_err_set(err, GH_ECONFLICT, "a person corrected this image's answer; kept it");
out:
    gh_sq_done(q);
    gh_sq_release(s, c);
    return rc;
}

/* Runs one of the stats statements and hands back its single row. */
static int sq_stats_row(struct sq_conn *c, enum sq_stmt_id id, int64_t now, sqlite3_stmt **out,
                        struct gh_err *err)
{
    int rc = gh_sq_stmt(c, id, out, err);

    if (rc)
        return rc;
    if (sqlite3_bind_parameter_count(*out) > 0 && sqlite3_bind_int64(*out, 1, now))
        return gh_sq_fail(err, c->db, "read statistics");
    if (gh_sq_step(*out) != SQLITE_ROW)
        return gh_sq_fail(err, c->db, "read statistics");
    return GH_OK;
}

static int sq_stats_read(struct sq_conn *c, int64_t now, struct gh_store_stats *out,
                         struct gh_err *err)
{
    sqlite3_stmt *q = NULL;
    int rc;

    rc = sq_stats_row(c, SQ_STMT_CACHE_STATS, now, &q, err);
    if (rc == GH_OK) {
        out->entries = sqlite3_column_int64(q, 0);
        out->live_entries = sqlite3_column_int64(q, 1);
        out->expired = out->entries - out->live_entries;
        out->total_hits = sqlite3_column_int64(q, 2);
        out->oldest_created_at = sqlite3_column_int64(q, 3);
        out->newest_created_at = sqlite3_column_int64(q, 4);
    }
    gh_sq_done(q);
    if (rc == GH_OK)
        rc = sq_stats_row(c, SQ_STMT_IDENT_STATS, now, &q, err);
    if (rc == GH_OK) {
        out->identifications = sqlite3_column_int64(q, 0);
        out->prompt_tokens = sqlite3_column_int64(q, 1);
        out->completion_tokens = sqlite3_column_int64(q, 2);
        out->provider_calls = sqlite3_column_int64(q, 3);
    }
    gh_sq_done(q);
    if (rc == GH_OK)
        rc = sq_stats_row(c, SQ_STMT_EQUIPMENT_COUNT, now, &q, err);
    if (rc == GH_OK)
        out->equipment = sqlite3_column_int64(q, 0);
    gh_sq_done(q);
    if (rc == GH_OK)
        rc = sq_stats_row(c, SQ_STMT_SCHEMA_VERSION, now, &q, err);
    if (rc == GH_OK)
        out->schema_version = sqlite3_column_int(q, 0);
    gh_sq_done(q);
    return rc;
}

static int sq_catalogue_version(struct sq_conn *c, char *out, size_t cap, struct gh_err *err)
{
    sqlite3_stmt *q = NULL;
    int rc, step;

    rc = gh_sq_stmt(c, SQ_STMT_GET_META, &q, err);
    if (rc)
        return rc;
    if (gh_sq_bind_text(q, 1, "catalogue_version")) {
        rc = gh_sq_fail(err, c->db, "read the catalogue version");
        goto out;
    }
    step = gh_sq_step(q);
    if (step == SQLITE_ROW)
        gh_sq_copy_text(out, cap, q, 0);
    else if (step != SQLITE_DONE) /* DONE: never synced, the version stays "" */
        rc = gh_sq_fail(err, c->db, "read the catalogue version");
out:
    gh_sq_done(q);
    return rc;
}

static int sq_stats(struct gh_store *st, int64_t now, struct gh_store_stats *out,
                    struct gh_err *err)
{
    struct sq_store *s = gh_sq_of(st);
    struct sq_conn *c = gh_sq_acquire(s);
    int rc;

    /* One read transaction, so the numbers describe a single moment. */
    if (gh_sq_exec(c->db, "BEGIN") != SQLITE_OK) {
        rc = gh_sq_fail(err, c->db, "begin reading statistics");
        goto out;
    }
    rc = sq_stats_read(c, now, out, err);
    if (rc == GH_OK)
        rc = sq_catalogue_version(c, out->catalogue_version, sizeof out->catalogue_version, err);
    rc = gh_sq_end(c, rc, "finish reading statistics", err);
out:
    gh_sq_release(s, c);
    return rc;
}

static int sq_purge_expired(struct gh_store *st, int64_t now, int64_t *n_purged, struct gh_err *err)
{
    struct sq_store *s = gh_sq_of(st);
    struct sq_conn *c = gh_sq_acquire(s);
    sqlite3_stmt *q = NULL;
    int rc;

    rc = gh_sq_stmt(c, SQ_STMT_PURGE, &q, err);
    if (rc)
        goto out;
    if (sqlite3_bind_int64(q, 1, now) || gh_sq_step(q) != SQLITE_DONE) {
        rc = gh_sq_fail(err, c->db, "purge expired cache entries");
        goto out;
    }
    *n_purged = sqlite3_changes(c->db);
out:
    gh_sq_done(q);
    gh_sq_release(s, c);
    return rc;
}

static int sq_equipment_name(struct gh_store *st, const char *slug, char *name, size_t name_cap,
                             struct gh_err *err)
{
    struct sq_store *s = gh_sq_of(st);
    struct sq_conn *c = gh_sq_acquire(s);
    sqlite3_stmt *q = NULL;
    int rc, step;

    rc = gh_sq_stmt(c, SQ_STMT_EQUIPMENT_NAME, &q, err);
    if (rc)
        goto out;
    if (gh_sq_bind_text(q, 1, slug)) {
        rc = gh_sq_fail(err, c->db, "look up equipment");
        goto out;
    }
    step = gh_sq_step(q);
    if (step == SQLITE_ROW)
        gh_sq_copy_text(name, name_cap, q, 0);
    else if (step == SQLITE_DONE)
        rc = gh_err_set(err, GH_ENOTFOUND, "no equipment with slug %s", slug);
    else
        rc = gh_sq_fail(err, c->db, "look up equipment");
out:
    gh_sq_done(q);
    gh_sq_release(s, c);
    return rc;
}

static int sq_explain_near(struct gh_store *st, char *plan, size_t plan_cap, struct gh_err *err)
{
    struct sq_store *s = gh_sq_of(st);
    struct sq_conn *c = gh_sq_acquire(s);
    sqlite3_stmt *q = NULL;
    size_t used = 0;
    int rc = GH_OK, step;

    if (sqlite3_prepare_v2(c->db, "EXPLAIN QUERY PLAN " SQ_NEAR_SQL, -1, &q, NULL) != SQLITE_OK) {
        rc = gh_sq_fail(err, c->db, "explain the near-duplicate query");
        goto out;
    }
    /* Columns: id, parent, notused, detail (https://sqlite.org/eqp.html). */
    while ((step = gh_sq_step(q)) == SQLITE_ROW) {
        const unsigned char *detail = sqlite3_column_text(q, 3);
        int n = snprintf(plan + used, plan_cap - used, "%s%s", used ? "; " : "",
                         detail ? (const char *)detail : "");

        if (n < 0 || (size_t)n >= plan_cap - used) {
            rc = gh_err_set(err, GH_ETOOBIG, "the query plan is over %zu bytes", plan_cap);
            goto out;
        }
        used += (size_t)n;
    }
    if (step != SQLITE_DONE)
        rc = gh_sq_fail(err, c->db, "explain the near-duplicate query");
out:
    sqlite3_finalize(q);
    gh_sq_release(s, c);
    return rc;
}

const struct gh_store_ops gh_store_sqlite_ops = {
    .name = "sqlite",
    .default_pool_size = 4,
    .open = sq_open,
    .close = sq_close,
    .schema_version = sq_schema_version,
    .sync_catalogue = sq_sync_catalogue,
    .get_exact = sq_get_exact,
    .get_near = sq_get_near,
    .put = sq_put,
    .record_identifications = gh_sq_record_identifications,
    .list_identifications = gh_sq_list_identifications,
    .get_identification = gh_sq_get_identification,
    .correct = gh_sq_correct,
    .stats = sq_stats,
    .purge_expired = sq_purge_expired,
    .equipment_name = sq_equipment_name,
    .explain_near = sq_explain_near,
    .vmem_add = gh_sq_vmem_add,
    .vmem_list = gh_sq_vmem_list,
    .vmem_prune = gh_sq_vmem_prune,
    .auth = &gh_store_sqlite_auth_ops,
    .corrections = &gh_store_sqlite_corrections_ops,
    .rows = &gh_store_sqlite_rows_ops,
    .quality_add = gh_sq_quality_add,
    .quality_buckets = gh_sq_quality_buckets,
    /* Bounded storage (issue 10; sqlite_retention.c). */
    .prune_history = gh_sq_prune_history,
    .add_hits = gh_sq_add_hits,
};

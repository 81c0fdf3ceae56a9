/* SPDX-License-Identifier: MIT */
/* `gymhelper plan`: a weekly plan for a goal, days, session length, experience and a gym's
 * equipment, printed as text (each choice with its reason) or as the API's JSON. No store:
 * the plan's "next" weights assume nothing has been logged yet. */
#include "cli.h"

#include "gh/alloc.h"
#include "gh/catalogue.h"
#include "gh/plan.h"

#include <getopt.h>
#include <jansson.h>
#include <stdio.h>
#include <string.h>

#define EQUIPMENT_MAX 128

static const char plan_usage[] =
    "usage: gymhelper plan --goal strength|muscle|general --days 2..6\n"
    "                      [--minutes 20..120] [--experience beginner|intermediate|advanced]\n"
    "                      [--equipment SLUG,SLUG,...|all] [--json]\n"
    "A weekly plan from the catalogue's exercises that uses only the named equipment (default:\n"
    "none, bodyweight only; 'all': every equipment type), every choice with its reason.\n"
    "Defaults: 60 minutes, intermediate.\n";

/* Splits a comma list in place into slugs; "all" is every catalogue slug. */
static int parse_equipment(const struct gh_catalogue *cat, char *list, const char **out, size_t *n)
{
    *n = 0;
    if (strcmp(list, "all") == 0) {
        for (size_t i = 0; i < gh_catalogue_count(cat) && *n < EQUIPMENT_MAX; i++)
            out[(*n)++] = gh_catalogue_at(cat, i)->slug;
        return 0;
    }
    for (char *p = list, *comma; p && *p; p = comma ? comma + 1 : NULL) {
        comma = strchr(p, ',');
        if (comma)
            *comma = '\0';
        if (!*p)
            continue;
        if (!gh_catalogue_find(cat, p)) {
            fprintf(stderr, "gymhelper plan: '%s' is no equipment of the catalogue\n", p);
            return -1;
        }
        if (*n == EQUIPMENT_MAX)
            return -1;
        out[(*n)++] = p;
    }
    return 0;
}

static void print_text(const char *text)
{
    json_t *plan = json_loads(text, 0, NULL), *v, *day;
    const char *k;
    size_t i, d;

    if (!plan)
        return;
    printf("Plan: %s, %d days a week, %d min, %s; split %s\n",
           json_string_value(json_object_get(plan, "goal")),
           (int)json_integer_value(json_object_get(plan, "days_per_week")),
           (int)json_integer_value(json_object_get(plan, "session_minutes")),
           json_string_value(json_object_get(plan, "experience")),
           json_string_value(json_object_get(plan, "split")));
    json_array_foreach(json_object_get(plan, "reasons"), i, v)
        printf("  - %s\n", json_string_value(v));
    json_array_foreach(json_object_get(plan, "days"), d, day)
    {
        json_t *slot;
        size_t s;

        printf("Day %d: %s (about %d min)\n", (int)json_integer_value(json_object_get(day, "n")),
               json_string_value(json_object_get(day, "name")),
               (int)json_integer_value(json_object_get(day, "minutes")));
        json_array_foreach(json_object_get(day, "slots"), s, slot)
        {
            json_t *reps = json_object_get(slot, "reps");
            const char *alt = json_string_value(json_object_get(slot, "alternative"));

            printf("  %-32s %d x %d-%d, rest %ds; else %s\n",
                   json_string_value(json_object_get(slot, "name")),
                   (int)json_integer_value(json_object_get(slot, "sets")),
                   (int)json_integer_value(json_array_get(reps, 0)),
                   (int)json_integer_value(json_array_get(reps, 1)),
                   (int)json_integer_value(json_object_get(slot, "rest_s")), alt ? alt : "-");
            printf("      %s\n", json_string_value(json_object_get(slot, "reason")));
        }
    }
    printf("Weekly working sets per muscle:");
    json_object_foreach(json_object_get(plan, "weekly_sets"), k, v)
        printf(" %s %d", k, (int)json_integer_value(v));
    printf("\n");
    json_decref(plan);
}

int gh_cli_plan(int argc, char **argv)
{
    static const struct option opts[] = {{"goal", required_argument, NULL, 'g'},
                                         {"days", required_argument, NULL, 'd'},
                                         {"minutes", required_argument, NULL, 'm'},
                                         {"experience", required_argument, NULL, 'x'},
                                         {"equipment", required_argument, NULL, 'e'},
                                         {"json", no_argument, NULL, 'j'},
                                         {"help", no_argument, NULL, 'h'},
                                         {NULL, 0, NULL, 0}};
    struct gh_plan_input in = {.goal = GH_PLAN_GOAL_GENERAL,
                               .session_minutes = 60,
                               .experience = GH_PLAN_EXPERIENCE_INTERMEDIATE};
    struct gh_catalogue *cat = NULL;
    struct gh_err err = {0};
    const char *eq[EQUIPMENT_MAX];
    char *equipment = NULL, *text = NULL;
    int c, json = 0, status = 2, have_goal = 0;
    long v;

    optind = 1;
    while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        switch (c) {
        case 'g':
            if (gh_plan_goal_parse(optarg, &in.goal) != GH_OK)
                goto usage;
            have_goal = 1;
            break;
        case 'd':
            if (gh_cli_parse_long(optarg, GH_PLAN_DAYS_MIN, GH_PLAN_DAYS_MAX, &v) != 0)
                goto usage;
            in.days_per_week = (int)v;
            break;
        case 'm':
            if (gh_cli_parse_long(optarg, GH_PLAN_MINUTES_MIN, GH_PLAN_MINUTES_MAX, &v) != 0)
                goto usage;
            in.session_minutes = (int)v;
            break;
        case 'x':
            if (gh_plan_experience_parse(optarg, &in.experience) != GH_OK)
                goto usage;
            break;
        case 'e':
            equipment = optarg;
            break;
        case 'j':
            json = 1;
            break;
        case 'h':
            fputs(plan_usage, stdout);
            return 0;
        default:
            goto usage;
        }
    }
    if (!have_goal || in.days_per_week == 0 || optind != argc)
        goto usage;
    if (gh_catalogue_load_embedded(&cat, &err) != GH_OK) {
        fprintf(stderr, "gymhelper plan: %s\n", err.msg);
        return 1;
    }
    if (equipment && parse_equipment(cat, equipment, eq, &in.n_equipment) != 0) {
        status = 2;
        goto out;
    }
    in.equipment = eq;
    if (gh_plan_generate(cat, &in, &text, &err) != GH_OK) {
        fprintf(stderr, "gymhelper plan: %s\n", err.msg);
        status = 1;
        goto out;
    }
    if (json)
        printf("%s\n", text);
    else
        print_text(text);
    status = 0;
out:
    gh_free(text);
    gh_catalogue_free(cat);
    return status;
usage:
    fputs(plan_usage, stderr);
    return 2;
}

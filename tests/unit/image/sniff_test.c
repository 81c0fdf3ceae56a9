/* SPDX-License-Identifier: MIT */
/* Magic-byte sniffing and the names errors use for what was found. */
#include "gh/image.h"
#include "../../gh_test.h"

struct sniff_case {
    const char *bytes;
    size_t len;
    enum gh_image_format fmt;
    const char *what;
};

#define B(s) s, sizeof(s) - 1

static void sniffs_and_describes(void)
{
    static const struct sniff_case cases[] = {
        {B("\xFF\xD8\xFF\xE0\0\x10JFIF"), GH_IMAGE_FORMAT_JPEG, "JPEG image"},
        {B("\x89PNG\r\n\x1A\n\0\0\0\rIHDR"), GH_IMAGE_FORMAT_PNG, "PNG image"},
        {B("RIFF\x24\0\0\0WEBPVP8 "), GH_IMAGE_FORMAT_WEBP, "WebP image"},
        {B("GIF89a\x01\0\x01\0"), GH_IMAGE_FORMAT_UNKNOWN, "GIF image"},
        {B("GIF87a"), GH_IMAGE_FORMAT_UNKNOWN, "GIF image"},
        {B("%PDF-1.7\n"), GH_IMAGE_FORMAT_UNKNOWN, "PDF document"},
        {B("<!DOCTYPE html><html>"), GH_IMAGE_FORMAT_UNKNOWN, "HTML document"},
        {B("\xEF\xBB\xBF  \n<html lang=en>"), GH_IMAGE_FORMAT_UNKNOWN, "HTML document"},
        {B("<svg xmlns=\"http://www.w3.org/2000/svg\">"), GH_IMAGE_FORMAT_UNKNOWN, "SVG image"},
        {B("hello, this is text\n"), GH_IMAGE_FORMAT_UNKNOWN, "plain text"},
        {B("h\xC3\xA9llo w\xC3\xB6rld \xE2\x9C\x93\n"), GH_IMAGE_FORMAT_UNKNOWN, "plain text"},
        {B("h\xC3\x28llo"), GH_IMAGE_FORMAT_UNKNOWN, "unrecognised binary data"},
        {B("{\"a\": 1}"), GH_IMAGE_FORMAT_UNKNOWN, "JSON or other text"},
        {B("\0\0\0\x18"
           "ftypheic\0\0\0\0"),
         GH_IMAGE_FORMAT_UNKNOWN, "HEIC image"},
        {B("\0\0\0\x1c"
           "ftypavif\0\0\0\0"),
         GH_IMAGE_FORMAT_UNKNOWN, "AVIF image"},
        {B("BM\x36\0\0\0"), GH_IMAGE_FORMAT_UNKNOWN, "BMP image"},
        {B("II*\0\x08\0"), GH_IMAGE_FORMAT_UNKNOWN, "TIFF image"},
        {B("PK\3\4\x14\0"), GH_IMAGE_FORMAT_UNKNOWN, "ZIP archive"},
        {B("RIFF\x24\0\0\0AVI LIST"), GH_IMAGE_FORMAT_UNKNOWN,
         "RIFF file that is not WebP (AVI or WAV)"},
        {B("\x01\x02\x03\x04\x80\x90"), GH_IMAGE_FORMAT_UNKNOWN, "unrecognised binary data"},
        {B("\xFF\xD8"), GH_IMAGE_FORMAT_UNKNOWN, "unrecognised binary data"}, /* cut SOI */
        {B("RIFF\x24\0\0\0WEB"), GH_IMAGE_FORMAT_UNKNOWN, "unrecognised binary data"},
        {"", 0, GH_IMAGE_FORMAT_UNKNOWN, "empty file"},
    };

    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        const uint8_t *b = (const uint8_t *)cases[i].bytes;

        CHECK_INT(gh_image_sniff(b, cases[i].len), cases[i].fmt);
        CHECK_STR(gh_image_describe(b, cases[i].len), cases[i].what);
    }
}

static void declared_types(void)
{
    CHECK_INT(gh_image_format_from_mime("image/jpeg"), GH_IMAGE_FORMAT_JPEG);
    CHECK_INT(gh_image_format_from_mime("IMAGE/JPG"), GH_IMAGE_FORMAT_JPEG);
    CHECK_INT(gh_image_format_from_mime(" image/png; charset=binary"), GH_IMAGE_FORMAT_PNG);
    CHECK_INT(gh_image_format_from_mime("image/webp"), GH_IMAGE_FORMAT_WEBP);
    CHECK_INT(gh_image_format_from_mime("image/gif"), GH_IMAGE_FORMAT_UNKNOWN);
    CHECK_INT(gh_image_format_from_mime("image/pngx"), GH_IMAGE_FORMAT_UNKNOWN);
    CHECK_INT(gh_image_format_from_mime(""), GH_IMAGE_FORMAT_UNKNOWN);
    CHECK_INT(gh_image_format_from_mime(NULL), GH_IMAGE_FORMAT_UNKNOWN);
    CHECK_INT(gh_image_format_from_filename("a/b/Photo.JPG"), GH_IMAGE_FORMAT_JPEG);
    CHECK_INT(gh_image_format_from_filename("x.jpeg"), GH_IMAGE_FORMAT_JPEG);
    CHECK_INT(gh_image_format_from_filename("x.png"), GH_IMAGE_FORMAT_PNG);
    CHECK_INT(gh_image_format_from_filename("x.webp"), GH_IMAGE_FORMAT_WEBP);
    CHECK_INT(gh_image_format_from_filename("x.gif"), GH_IMAGE_FORMAT_UNKNOWN);
    CHECK_INT(gh_image_format_from_filename("dir.png/file"), GH_IMAGE_FORMAT_UNKNOWN);
    CHECK_INT(gh_image_format_from_filename("noext"), GH_IMAGE_FORMAT_UNKNOWN);
    CHECK_STR(gh_image_format_name(GH_IMAGE_FORMAT_PNG), "png");
    CHECK_STR(gh_image_format_name(GH_IMAGE_FORMAT_UNKNOWN), "unknown");
}

GH_TEST_MAIN(GH_TEST(sniffs_and_describes), GH_TEST(declared_types))

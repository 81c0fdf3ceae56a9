/* SPDX-License-Identifier: MIT */
/* JPEG fast path for the pHash grid: libjpeg decodes only the Y (luma) channel, at 1/2, 1/4
 * or 1/8 scale in the DCT domain, so a 12-megapixel photo costs little more than its entropy
 * decoding. JPEG's Y is the BT.601 luma of the RGB it encodes, the same quantity Pillow's
 * convert("L") computes. libvips would do the same work behind ~10x more per-call overhead. */
#include "internal.h"

#include "gh/alloc.h"

#include <setjmp.h>
#include <stdio.h>
#include <string.h>

#include <jpeglib.h>
#include <jerror.h>

struct error_mgr {
    struct jpeg_error_mgr pub;
    jmp_buf jump;
    char msg[JMSG_LENGTH_MAX];
    int truncated;
};

static void on_error(j_common_ptr cinfo)
{
    struct error_mgr *e = (struct error_mgr *)cinfo->err;

    cinfo->err->format_message(cinfo, e->msg);
    longjmp(e->jump, 1);
}

/* Warnings that mean the pixels are not all there: data cut short (with or without an end
 * marker after it) or entropy-coded data that does not decode. libjpeg would pad with grey
 * and carry on; we refuse. Harmless warnings (extraneous bytes, odd ICC or JFIF) pass. */
static int is_data_loss(int code)
{
    return code == JWRN_JPEG_EOF || code == JWRN_HIT_MARKER || code == JWRN_HUFF_BAD_CODE ||
           code == JWRN_ARITH_BAD_CODE || code == JWRN_MUST_RESYNC;
}

static void on_message(j_common_ptr cinfo, int level)
{
    struct error_mgr *e = (struct error_mgr *)cinfo->err;

    if (level < 0 && is_data_loss(cinfo->err->msg_code)) {
        e->truncated = 1;
        cinfo->err->format_message(cinfo, e->msg);
        longjmp(e->jump, 1);
    }
}

/* Pillow's RGB to "L" (libImaging/Convert.c L24): ITU-R 601-2 luma in 16-bit fixed point. */
static void luma_601(const uint8_t *rgb, uint8_t *out, size_t n)
{
    for (size_t i = 0; i < n; i++, rgb += 3)
        out[i] = (uint8_t)((rgb[0] * 19595u + rgb[1] * 38470u + rgb[2] * 7471u + 0x8000u) >> 16);
}

static int orientation_of(j_decompress_ptr cinfo)
{
    for (jpeg_saved_marker_ptr m = cinfo->marker_list; m; m = m->next)
        if (m->marker == JPEG_APP0 + 1 && m->data_length >= 6 &&
            memcmp(m->data, "Exif\0\0", 6) == 0)
            return gh_exif_orientation(m->data, m->data_length);
    return 1;
}

/* Reads the header into info and checks it; GH_EUNSUPPORTED (err untouched) for CMYK. */
static int read_header(j_decompress_ptr cinfo, struct error_mgr *jerr,
                       const struct gh_image_limits *lim, struct gh_image_info *info,
                       struct gh_err *err)
{
    jpeg_save_markers(cinfo, JPEG_APP0 + 1, 0xFFFF);
    if (jpeg_read_header(cinfo, TRUE) != JPEG_HEADER_OK)
        return gh_err_set(err, GH_EDECODE, "the image header could not be read");
    info->format = GH_IMAGE_FORMAT_JPEG;
    info->width = (int)cinfo->image_width;
    info->height = (int)cinfo->image_height;
    info->bands = cinfo->num_components;
    info->has_alpha = 0;
    info->n_pages = 1;
    info->orientation = orientation_of(cinfo);
    (void)jerr;
    if (cinfo->jpeg_color_space == JCS_CMYK || cinfo->jpeg_color_space == JCS_YCCK)
        return GH_EUNSUPPORTED;
    return gh_image_check_dims(info, lim, err);
}

int gh_jpeg_luma_grid(const uint8_t *buf, size_t len, const struct gh_image_limits *lim, int side,
                      uint8_t *out, struct gh_image_info *info, struct gh_err *err)
{
    struct jpeg_decompress_struct cinfo;
    struct error_mgr jerr;
    uint8_t *volatile plane = NULL, *volatile line = NULL;
    uint8_t grid[256 * 256];
    volatile int rc = GH_OK;
    size_t stride;
    int rgb;

    memset(&jerr, 0, sizeof jerr);
    cinfo.err = jpeg_std_error(&jerr.pub);
    jerr.pub.error_exit = on_error;
    jerr.pub.emit_message = on_message;
    jpeg_create_decompress(&cinfo);
    if (setjmp(jerr.jump)) {
        rc = gh_err_set(err, GH_EDECODE, "%s: %s",
                        jerr.truncated ? "the image data is truncated or corrupt"
                                       : "the JPEG could not be decoded",
                        jerr.msg);
        goto out;
    }
    jpeg_mem_src(&cinfo, buf, (unsigned long)len);
    rc = read_header(&cinfo, &jerr, lim, info, err);
    if (rc)
        goto out;
    cinfo.scale_num = 1;
    cinfo.scale_denom = (unsigned int)gh_image_grid_shrink(info, side);
    /* At full scale, decode RGB and take Pillow's luma of it: bit-identical to the reference.
     * Shrunk, Y straight from the DCT is the cheaper equivalent (it equals that luma up to
     * rounding). */
    rgb = cinfo.scale_denom == 1 && cinfo.num_components == 3;
    cinfo.out_color_space = rgb ? JCS_RGB : JCS_GRAYSCALE;
    jpeg_start_decompress(&cinfo);
    stride = cinfo.output_width;
    plane = gh_malloc_array(stride, cinfo.output_height);
    line = rgb ? gh_malloc_array(stride, 3) : NULL;
    if (!plane || (rgb && !line)) {
        rc = gh_err_set(err, GH_ENOMEM, "out of memory decoding a %ux%u image", cinfo.output_width,
                        cinfo.output_height);
        goto out;
    }
    while (cinfo.output_scanline < cinfo.output_height) {
        uint8_t *dst = plane + (size_t)cinfo.output_scanline * stride;
        JSAMPROW row = rgb ? line : dst;

        jpeg_read_scanlines(&cinfo, &row, 1);
        if (rgb)
            luma_601(line, dst, stride);
    }
    jpeg_finish_decompress(&cinfo);
    if (gh_resample_lanczos_u8(plane, (int)cinfo.output_width, (int)cinfo.output_height, stride,
                               grid, side, side) != GH_OK) {
        rc = gh_err_set(err, GH_ENOMEM, "out of memory resizing the image");
        goto out;
    }
    gh_orient_square(grid, out, side, info->orientation);
out:
    jpeg_destroy_decompress(&cinfo);
    gh_free(line);
    gh_free(plane);
    return rc;
}

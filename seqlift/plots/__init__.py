"""Figures of contribution scores."""

#: file formats figures are written in, told by the file name's suffix (matplotlib writes them all)
FORMATS = ("png", "pdf", "svg", "jpg", "jpeg", "tif", "tiff", "webp", "gif", "eps", "ps", "svgz")
#: picture formats a name may end with that matplotlib does not write (a file was meant, not a folder)
UNWRITTEN_FORMATS = ("bmp", "avif", "heic", "heif", "ico", "jp2", "jxl", "raw", "rgba", "pgf", "emf", "wmf")

/*
 * Editing the config file's text in place (configure-ssl): one key of one section set
 * or removed, every other line (comments, order, other keys) kept as it was.
 */
#ifndef UC_CONFIG_EDIT_H
#define UC_CONFIG_EDIT_H

/*
 * A copy of text with "[section] key = value": the first existing line of that key in
 * that section replaced and any repeats dropped, or the line added at the end of the
 * section, or the section added at the end. value NULL removes the key. NULL when out of
 * memory. The caller frees.
 */
char *uc_config_edit(const char *text, const char *section, const char *key, const char *value);

#endif

"""One module per return (表1–表10); each defines RETURN."""

"""The returns portal: county clerks check and submit returns in a browser, the city follows them.
It only puts files (and 说明.csv) into landing; the pipeline stays the only judge."""

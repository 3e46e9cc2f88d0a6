complete -c changelog-tail -s p -l path -d 'The changelog file to follow, or - for standard input (a pipe) [default: $CTLSTORE_PATH/change.log, else /var/spool/ctlstore/change.log]' -r -F
complete -c changelog-tail -l family -d 'Print only events of this family (case-insensitive; a glob with *, ? or [...], e.g. \'pay*\'; repeat for any of several)' -r
complete -c changelog-tail -l table -d 'Print only events of this table (case-insensitive; a glob with *, ? or [...], e.g. \'user*\'; repeat for any of several)' -r
complete -c changelog-tail -l key -d 'Print only events with key column NAME equal to VALUE (repeat: all must hold)' -r
complete -c changelog-tail -l format -d 'Output format [default: pretty on a terminal, ndjson otherwise]' -r -f -a "ndjson\t'One JSON object per line'
pretty\t'One readable line per event'"
complete -c changelog-tail -l color -d 'When to use colour (pretty output and messages); auto honours NO_COLOR' -r -f -a "auto\t'When writing to a terminal and NO_COLOR is not set'
always\t'Always'
never\t'Never'"
complete -c changelog-tail -l from -d 'Where to begin: the start of the current file, or only new lines' -r -f -a "start\t'The beginning of the current file'
end\t'After the last complete line (its seq is the baseline)'"
complete -c changelog-tail -l after-seq -d 'Resume after seq N: skip events through N; the first one printed must be N+1, else out of sync' -r
complete -c changelog-tail -l state-file -d 'Resume across runs: start after the event this file names, and keep it up to date (at-least-once; one file per running process)' -r -F
complete -c changelog-tail -s n -l lines -d 'Start with the last N matching events of the current file (0: only new ones), then follow, as tail -n; with --no-follow, print them and exit. Reads the file once more at start and keeps one position per event counted (under 100 bytes each, at most as many as the file holds)' -r
complete -c changelog-tail -l count -d 'Exit 0 after printing N events' -r
complete -c changelog-tail -l on-out-of-sync -d 'What to do when events were lost: exit 3, warn and go on, or print a fresh snapshot of the LDB\'s rows and go on' -r -f -a "exit\t'Exit with status 3'
warn\t'Warn on stderr, print the event and go on'
snapshot\t'Print a fresh snapshot of the LDB\'s rows (a consumer resets on its "begin" line), then go on from where it was taken'"
complete -c changelog-tail -l ldb -d 'The LDB that --rows and snapshots read [default: $CTLSTORE_PATH/ldb.db, else /var/spool/ctlstore/ldb.db]' -r -F
complete -c changelog-tail -l poll -d 'Check for changes every INTERVAL (e.g. 250ms, 2s) instead of waiting for filesystem notifications; for NFS and other mounts without them' -r
complete -c changelog-tail -l max-line-bytes -d 'Longest line accepted, in bytes; longer lines are reported and skipped' -r
complete -c changelog-tail -l generate -d 'Print the man page (roff) or a shell\'s completions to stdout and exit, e.g. --generate complete-bash > /etc/bash_completion.d/changelog-tail' -r -f -a "man\t'The man page, roff (man -l to read it)'
complete-bash\t'Completions for bash'
complete-zsh\t'Completions for zsh'
complete-fish\t'Completions for fish'
complete-elvish\t'Completions for elvish'
complete-powershell\t'Completions for PowerShell'"
complete -c changelog-tail -s f -l follow -d 'Keep following the file as it grows and rotates: the default, accepted for the habit of tail -f'
complete -c changelog-tail -l no-follow -d 'Read to the end of the current file, then exit 0'
complete -c changelog-tail -l wait -d 'If the changelog does not exist, wait for it (default: give up after 1 s)'
complete -c changelog-tail -l strict -d 'Exit 4 on the first invalid line instead of warning and going on'
complete -c changelog-tail -l raw -d 'Print each matching line exactly as read (implies ndjson)'
complete -c changelog-tail -l rows -d 'Add each printed event\'s row as it is now in ctlstore\'s LDB: a last NDJSON field "row" (the row, or null if there is none), or "→ col=value …" in pretty output'
complete -c changelog-tail -l snapshot -d 'First print every row of the matching tables as it is now in ctlstore\'s LDB ("snapshot" lines: begin, one per row, end), then the changes from that moment on; with --state-file, only when there is no state or it is out of sync'
complete -c changelog-tail -s q -l quiet -d 'No warnings or notices on stderr (errors and out of sync are still said)'
complete -c changelog-tail -s v -l verbose -d 'Also a note on stderr for each rotation followed ("… has been replaced; following the new file", as tail -F)'
complete -c changelog-tail -s h -l help -d 'Print help (see more with \'--help\')'
complete -c changelog-tail -s V -l version -d 'Print version'

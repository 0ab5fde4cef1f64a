prune_index(KEYS[1], ARGV[1], tonumber(ARGV[2]))
return 0

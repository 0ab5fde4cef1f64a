-- Note a record that receives pending writes while its checkpoint is not in the index
-- (its put has not landed yet, LangGraph's durability="async"/"exit" saving in the
-- background; or the thread was deleted while a run went on), so that delete_thread
-- finds it: it cannot be added to the index, whose latest entry get_tuple reads.
-- KEYS[1] the index, KEYS[2] the writes set; ARGV[1] the index member, ARGV[2] the
-- record's key. The put of the checkpoint removes the note.
if not redis.call('ZSCORE', KEYS[1], ARGV[1]) then
  redis.call('SADD', KEYS[2], ARGV[2])
end
return 0
